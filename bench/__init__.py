"""Verbund benchmark suite: ``python -m bench`` (see bench/README.md).

Every figure is printed next to baselines measured in the same run on the same uvicorn settings:

    raw ASGI no-op  ──  what uvicorn + the load generator can do at all
    FastAPI no-op   ──  the "ceiling" for any FastAPI route (the raw/FastAPI gap is routing cost)
    broker          ──  the real thing, measured against both

Modules: ``baselines`` (the no-op apps), ``servers`` (uvicorn subprocesses, RSS), ``context_server`` (the
user @context served on loopback), ``payloads`` (WaterObserved batches), ``upsert`` (httpx batch load),
``wrk`` (GET load with wrk), ``runner`` (scenario order), ``report`` (table and JSON), ``cli``.
"""
