"""tests/broker_adapter/api/test_tenancy.py on the MongoDB store (see conftest.py)."""

from tests.broker_adapter.api.test_tenancy import *  # noqa: F403
