"""tests/broker_adapter/api/test_discovery.py on the MongoDB store (see conftest.py)."""

from tests.broker_adapter.api.test_discovery import *  # noqa: F403
