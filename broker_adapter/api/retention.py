"""History retention in the background: per tenant its own period, else VERBUND_HISTORY_RETENTION.

Each pass deletes in batches of BATCH instances, each batch its own short transaction on the writer
thread, so entity writes queue behind at most one batch (a few ms), never behind a whole purge.
"""

from __future__ import annotations

import asyncio
import logging

from broker_adapter.api.deps import Broker
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.durations import Duration, canonical_to_ms, parse_duration
from broker_adapter.ngsild.errors import BadRequestData, NgsiLdError

log = logging.getLogger("verbund.broker")
BATCH = 2000
INTERVAL_SECONDS = 3600.0


def default_retention(raw: str) -> Duration | None:
    """The VERBUND_HISTORY_RETENTION setting: empty for unlimited, else an ISO 8601 duration."""
    if not raw:
        return None
    try:
        return parse_duration(raw, "VERBUND_HISTORY_RETENTION")
    except BadRequestData as exc:
        raise ValueError(exc.detail) from exc


async def purge_once(broker: Broker) -> int:
    """One full pass; the number of instances deleted."""
    default = default_retention(broker.settings.history_retention)
    history = broker.store.history
    now = canonical_to_ms(now_iso())
    total = 0
    while True:
        deleted = await broker.run_write(history.purge_expired, now, default, BATCH)
        total += deleted
        if deleted < BATCH:
            return total
        await asyncio.sleep(0)  # let queued requests in between batches


async def run_retention(broker: Broker, interval: float = INTERVAL_SECONDS) -> None:
    """Forever: a pass, then sleep. Cancelled at shutdown."""
    while True:
        try:
            deleted = await purge_once(broker)
            if deleted:
                log.info("history retention", extra={"deleted": deleted})
        except NgsiLdError as exc:
            log.warning("history retention failed", extra={"detail": exc.detail})
        await asyncio.sleep(interval)
