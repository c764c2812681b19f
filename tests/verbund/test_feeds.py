"""Feed subscriptions: a real broker accepts them, and the token tells a true tenant from a forged one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.receivers import HttpReceiver, wait_for
from tests.support.server import BrokerProcess
from tests.support.subscriptions import NOTIFY_ENV
from verbund.feeds import feed_subscription, feed_token, subscription_id, verify_feed_token


def test_token_binds_the_tenant_and_the_secret() -> None:
    token = feed_token("s3cret", "kusel")
    assert verify_feed_token("s3cret", "kusel", token)
    assert not verify_feed_token("s3cret", "kaiserslautern", token)
    assert not verify_feed_token("other", "kusel", token)
    assert not verify_feed_token("", "kusel", feed_token("", "kusel"))
    assert not verify_feed_token("s3cret", "kusel", None)


@pytest.fixture(scope="module")
def feeding_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    process = BrokerProcess(tmp_path_factory.mktemp("feeds"), env=NOTIFY_ENV).start()
    yield process
    process.stop()


def test_a_feed_subscription_delivers_with_its_tenant_token(feeding_broker: BrokerProcess) -> None:
    tenant = "feed" + uuid.uuid4().hex[:8]
    receiver = HttpReceiver().start()
    try:
        body = feed_subscription(
            "catalog",
            tenant,
            notify_url=receiver.url + "/notify",
            secret="s3cret",
            context_url=feeding_broker.url + "/ngsi-ld/contexts/verbund.jsonld",
        )
        ld = {"NGSILD-Tenant": tenant, "Content-Type": "application/ld+json"}
        api = feeding_broker.url + "/ngsi-ld/v1"
        assert httpx.post(api + "/subscriptions", json=body, headers=ld).status_code == 201
        # whoever creates it second (registry or service) gets 409, not a duplicate
        assert httpx.post(api + "/subscriptions", json=body, headers=ld).status_code == 409
        gauge = {
            "id": "urn:ngsi-ld:WaterObserved:lauter-1",
            "type": "WaterObserved",
            "height": {"type": "Property", "value": 1.2},
            "@context": body["@context"],
        }
        assert httpx.post(api + "/entities", json=gauge, headers=ld).status_code == 201
        got = wait_for(lambda: receiver.requests("/notify"))[0]
        assert got.headers["x-verbund-tenant"] == tenant
        assert verify_feed_token("s3cret", tenant, got.headers["x-verbund-feed-token"])
        assert got.body["subscriptionId"] == subscription_id("catalog")
        assert got.body["data"][0]["type"] == "WaterObserved"
    finally:
        receiver.close()
