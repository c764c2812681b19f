import threading

from broker_adapter.api.metrics import BUCKETS, Histogram, Metrics


def test_histogram_counts_each_observation_in_its_first_bucket() -> None:
    hist = Histogram()
    for seconds in (0.0, BUCKETS[0], BUCKETS[0] + 1e-9, BUCKETS[-1], BUCKETS[-1] + 1):
        hist.observe(seconds)
    assert hist.total == 5
    assert hist.counts[0] == 2 and hist.counts[1] == 1 and hist.counts[-1] == 1
    assert sum(hist.counts) == 4  # above the last bound: only in +Inf


def test_store_latency_merges_every_thread_including_exited_ones() -> None:
    metrics = Metrics()
    metrics.observe_store("get_entity", 0.002)

    def worker() -> None:
        for _ in range(1000):
            metrics.observe_store("get_entity", 0.02)
        metrics.observe_store("apply", 3.0)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metrics.observe_store("get_entity", 0.002)
    for _ in range(2):  # the first call retires the exited threads' shards, the second reads them back
        merged = metrics.store_latency
        assert merged["get_entity"].total == 4002
        assert merged["get_entity"].counts[BUCKETS.index(0.0025)] == 2
        assert merged["get_entity"].counts[BUCKETS.index(0.025)] == 4000
        assert merged["apply"].total == 4
    text = metrics.render()
    assert 'verbund_store_operation_duration_seconds_count{operation="get_entity"} 4002' in text
