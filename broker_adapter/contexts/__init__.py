"""@context resolution and storage: the one place of the broker that fetches remote @contexts."""

from broker_adapter.contexts.fetch import fetch_context_document
from broker_adapter.contexts.resolver import ContextResolver, ResolvedContext, context_details

__all__ = ["ContextResolver", "ResolvedContext", "context_details", "fetch_context_document"]
