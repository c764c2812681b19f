"""Subscriptions' delivery side: match committed changes, keep a durable outbox, send over HTTP and MQTT."""

from __future__ import annotations

from typing import Any

from broker_adapter.contexts.resolver import ContextResolver
from broker_adapter.notifications.dispatcher import Dispatcher
from broker_adapter.notifications.policy import EndpointPolicy
from broker_adapter.storage.notify_port import NotifyStore
from verbund.settings import Settings

__all__ = ["Dispatcher", "EndpointPolicy", "open_notify_store", "start"]


def open_notify_store(store: Any) -> NotifyStore:
    """The notification side of an entity store (the same database)."""
    from broker_adapter.storage.sqlite.notify import SqliteNotifyStore
    from broker_adapter.storage.sqlite.store import SqliteStore

    if isinstance(store, SqliteStore):
        return SqliteNotifyStore(store)
    raise ValueError(f"notifications are not available for {type(store).__name__}")


async def start(state: Any, settings: Settings, store: Any, resolver: ContextResolver) -> Dispatcher:
    """Build the subscription API's parts into `state.notifications` and start matching and sending."""
    from broker_adapter.api.subscriptions import Notifications

    notify_store = open_notify_store(store)
    policy = EndpointPolicy(
        settings.notify_allowed_hosts, settings.notify_trusted_tenants, settings.notify_allowed_urls
    )
    state.notifications = Notifications(notify_store, policy)
    dispatcher = Dispatcher(settings, notify_store, resolver, policy)
    await dispatcher.start()
    return dispatcher
