"""Subscriptions' delivery side: match committed changes, keep a durable outbox, send over HTTP and MQTT."""

from __future__ import annotations

from typing import Any

from broker_adapter.contexts.resolver import ContextResolver
from broker_adapter.notifications.dispatcher import Dispatcher
from broker_adapter.notifications.policy import EndpointPolicy
from broker_adapter.notifications.process import NotifierProcess
from broker_adapter.storage.notify_port import NotifyStore
from verbund.settings import Settings

__all__ = ["Dispatcher", "EndpointPolicy", "NotifierProcess", "endpoint_policy", "open_notify_store", "start"]


def open_notify_store(store: Any) -> NotifyStore:
    """The notification side of an entity store (the same database)."""
    from broker_adapter.storage.sqlite.notify import SqliteNotifyStore
    from broker_adapter.storage.sqlite.store import SqliteStore

    if isinstance(store, SqliteStore):
        return SqliteNotifyStore(store)
    from broker_adapter.storage.mongo.store import MongoStore

    if isinstance(store, MongoStore):
        from broker_adapter.storage.mongo.notify import MongoNotifyStore

        return MongoNotifyStore(store)
    raise ValueError(f"notifications are not available for {type(store).__name__}")


def endpoint_policy(settings: Settings) -> EndpointPolicy:
    """Where notifications may go: the operator's allow-list, trusted tenants and the platform's feeds."""
    from broker_adapter.registry.feed_config import trusted_urls

    return EndpointPolicy(
        settings.notify_allowed_hosts, settings.notify_trusted_tenants, trusted_urls(settings.feeds)
    )


async def start(
    state: Any, settings: Settings, store: Any, resolver: ContextResolver
) -> Dispatcher | NotifierProcess:
    """Build the subscription API's parts into `state.notifications` and start matching and sending:
    in a process of its own (the default), or in this one (`VERBUND_NOTIFY_PROCESS=inline`)."""
    from broker_adapter.api.subscriptions import Notifications

    notify_store = open_notify_store(store)
    policy = endpoint_policy(settings)
    state.notifications = Notifications(notify_store, policy)
    # a store that lives in this process only (mongomock://) cannot be shared with a child process
    if settings.notify_process == "separate" and not getattr(store, "process_local", False):
        notifier = NotifierProcess(settings)
        notify_store.on_change = notifier.wake  # type: ignore[attr-defined]
        notify_store.install()  # type: ignore[attr-defined]
        notifier.start()
        return notifier
    dispatcher = Dispatcher(settings, notify_store, resolver, policy)
    await dispatcher.start()
    return dispatcher
