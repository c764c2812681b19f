"""tests/broker_adapter/api/test_batch.py on the MongoDB store (see conftest.py)."""

from tests.broker_adapter.api.test_batch import *  # noqa: F403
