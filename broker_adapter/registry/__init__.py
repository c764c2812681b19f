"""The municipality registry (model, feeds, service); the admin API is api/admin.py."""

from __future__ import annotations

from typing import Any

from broker_adapter.api.deps import Broker
from broker_adapter.registry.feed_config import parse_feeds
from broker_adapter.registry.feeds import Feeds
from broker_adapter.registry.service import Directory, Registry


def start(state: Any, broker: Broker) -> Registry:
    """Build the registry into `state.registry` (after notifications: feeds use their store)."""
    settings = broker.settings
    targets = parse_feeds(settings.feeds, settings.feed_secret)
    directory = Directory(broker.store)
    directory.reload()
    feeds = Feeds(broker, state.notifications.store, targets, settings.feed_secret)
    state.registry = Registry(broker, feeds, directory)
    return state.registry
