"""The registry's side of the feed subscriptions (shared contract 3, verbund/feeds.py).

Which services are fed is configuration: VERBUND_FEEDS="catalog=http://host/catalog/notify,dashboard=..."
and one VERBUND_FEED_SECRET the receivers check the per-tenant tokens with. When a municipality registers,
each configured service gets its feed subscription in the new tenant; when it retires, they are deleted.

The subscriptions are written through the broker's own subscription model (parse_subscription and the
notification store), not over HTTP, so registration needs no credential of its own. Their endpoints are
the operator's configuration, so the endpoint policy trusts exactly these URLs (notifications/__init__.py).
"""

from __future__ import annotations

import contextlib

import anyio.to_thread

from broker_adapter.api.deps import Broker
from broker_adapter.ngsild.datetimes import now_iso
from broker_adapter.ngsild.errors import AlreadyExists
from broker_adapter.ngsild.subscriptions import parse_subscription
from broker_adapter.ngsild.types import Tenant
from broker_adapter.registry.feed_config import FeedTarget
from broker_adapter.storage.notify_port import NotifyStore, StoredSubscription
from smart_data_models.context import platform_context_url
from verbund.feeds import feed_subscription, subscription_id


class Feeds:
    def __init__(self, broker: Broker, store: NotifyStore, targets: tuple[FeedTarget, ...], secret: str):
        self.broker = broker
        self.store = store
        self.targets = targets
        self._secret = secret

    async def create(self, tenant: Tenant) -> list[str]:
        """Each configured service's feed subscription in tenant (an existing one is kept); their ids."""
        context_url = platform_context_url(self.broker.settings.broker_url)
        created = []
        for target in self.targets:
            body = feed_subscription(
                target.service,
                tenant,
                notify_url=target.notify_url,
                secret=self._secret,
                context_url=context_url,
            )
            resolved = await self.broker.resolver.resolve_context(body["@context"])
            doc = parse_subscription(body, resolved.term_map, resolved.url)
            now = now_iso()
            sub = StoredSubscription(
                tenant, doc["id"], doc, body["@context"], created_at=now, modified_at=now
            )
            with contextlib.suppress(AlreadyExists):  # the service reconciled first: the same one
                await self.broker.run_write(self.store.create_subscription, sub)
            created.append(doc["id"])
        return created

    async def delete(self, tenant: Tenant) -> None:
        for target in self.targets:
            await self.broker.run_write(
                self.store.delete_subscription, tenant, subscription_id(target.service)
            )

    async def exists(self, tenant: Tenant, service: str) -> bool:
        found = await anyio.to_thread.run_sync(self.store.get_subscription, tenant, subscription_id(service))
        return found is not None
