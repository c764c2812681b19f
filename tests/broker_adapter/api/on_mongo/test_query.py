"""tests/broker_adapter/api/test_query.py on the MongoDB store (see conftest.py)."""

from tests.broker_adapter.api.test_query import *  # noqa: F403
