"""The live-update hub: a slow browser never holds up the others, and a reconnect resumes or reloads."""

from __future__ import annotations

import asyncio

from visualisation.live import Hub


async def _drain(hub: Hub, client, count: int) -> list[bytes]:
    stream = hub.stream(client)
    got = []
    async for chunk in stream:
        if chunk.startswith(b"id:"):  # an event (the retry hint and keep-alives are not)
            got.append(chunk)
        if len(got) == count:
            await stream.aclose()
            return got
    return got


def test_a_slow_browser_gets_a_snapshot_and_the_others_every_update() -> None:
    async def run() -> None:
        hub = Hub(queue_size=10, max_clients=10)
        slow = hub.connect("kusel", None)
        quick = hub.connect("kusel", None)
        reader = asyncio.create_task(_drain(hub, quick, 100))
        for n in range(100):
            hub.publish("kusel", "sensor", {"n": n})
            await asyncio.sleep(0)  # the quick browser reads as updates come
        quick_got = await asyncio.wait_for(reader, 5)
        assert [c.split(b"data: ")[1].strip() for c in quick_got] == [b'{"n":%d}' % n for n in range(100)]
        # the slow one never read: it holds at most its queue, and is told to reload instead
        assert len(slow.queue) <= 10 and slow.lagged
        first = await asyncio.wait_for(_drain(hub, slow, 1), 5)
        assert b"event: snapshot" in first[0]

    asyncio.run(run())


def test_a_browser_only_gets_its_municipality() -> None:
    hub = Hub(queue_size=10, max_clients=10)
    kusel = hub.connect("kusel", None)
    region = hub.connect(None, None)
    hub.publish("kaiserslautern", "sensor", {"id": "a"})
    assert len(kusel.queue) == 0 and len(region.queue) == 1


def test_reconnecting_replays_what_was_missed_while_it_is_recent() -> None:
    hub = Hub(queue_size=100, max_clients=10, recent=5)
    for n in range(3):
        hub.publish("kusel", "sensor", {"n": n})
    back = hub.connect("kusel", hub.event_id(1))
    assert [e.seq for e in back.queue] == [2, 3]
    for n in range(10):
        hub.publish("kusel", "sensor", {"n": n})
    assert hub.connect("kusel", hub.event_id(2)).lagged  # left the recent window: reload
    assert hub.connect("kusel", "otherrun-3").lagged  # another run of the dashboard: reload
    assert not hub.connect("kusel", hub.position()).lagged


def test_open_streams_are_bounded() -> None:
    hub = Hub(queue_size=10, max_clients=2)
    hub.connect(None, None)
    assert not hub.full()
    hub.connect(None, None)
    assert hub.full()
