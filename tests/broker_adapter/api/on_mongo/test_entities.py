"""tests/broker_adapter/api/test_entities.py on the MongoDB store (see conftest.py)."""

from tests.broker_adapter.api.test_entities import *  # noqa: F403
