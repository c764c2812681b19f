"""tests/broker_adapter/api/test_temporal.py on the MongoDB store (see conftest.py)."""

from tests.broker_adapter.api.test_temporal import *  # noqa: F403

# writes thousands of instances one request at a time: slow on mongomock, and about paging, not storage
del test_a_long_history_is_paged_forwards_with_content_range  # noqa: F821
