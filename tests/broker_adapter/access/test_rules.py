"""The access rules as plain functions: what each request needs, role grants, token buckets, log scrubbing."""

from __future__ import annotations

import pytest

from broker_adapter.access.gate import classify
from broker_adapter.access.ratelimit import RateLimiter
from broker_adapter.access.roles import principal
from verbund.logs import redact


@pytest.mark.parametrize(
    ("method", "path", "need"),
    [
        ("GET", "/ngsi-ld/v1/entities/urn:x:1", ("read", "t1", False)),
        ("POST", "/ngsi-ld/v1/entityOperations/query", ("read", "t1", False)),
        ("POST", "/ngsi-ld/v1/temporal/entityOperations/query", ("read", "t1", False)),
        ("POST", "/ngsi-ld/v1/entityOperations/upsert", ("write", "t1", True)),
        ("DELETE", "/ngsi-ld/v1/temporal/entities/urn:x:1", ("write", "t1", True)),
        ("GET", "/ngsi-ld/v1/subscriptions", ("subscribe", "t1", False)),
        ("PATCH", "/ngsi-ld/v1/subscriptions/urn:s:1", ("subscribe", "t1", True)),
        ("GET", "/ngsi-ld/v1/jsonldContexts", ("authenticated", None, False)),
        ("DELETE", "/ngsi-ld/v1/jsonldContexts/urn:c:1", ("platform", "*", True)),
        ("POST", "/verbund/v1/municipalities", ("platform", "*", True)),
        ("GET", "/verbund/v1/municipalities/kusel", ("anyone", None, False)),
        ("PATCH", "/verbund/v1/municipalities/kusel", ("admin", "kusel", True)),
        ("POST", "/verbund/v1/municipalities/kusel/retire", ("platform", "*", True)),
        ("PUT", "/verbund/v1/tenants/kusel/sdm-policy", ("admin", "kusel", True)),
        ("GET", "/verbund/v1/credentials", ("authenticated", None, False)),
    ],
)
def test_each_request_needs_one_action_in_one_place(method: str, path: str, need: tuple) -> None:
    assert classify(method, path, "t1") == need


def test_roles_grant_their_actions_per_tenant_and_everywhere() -> None:
    who = principal("x", "x", [("reader", "kusel"), ("writer", "linz"), ("device", "*"), ("wizard", "kusel")])
    assert who.may("read", "kusel") and not who.may("write", "kusel")
    assert who.may("write", "linz") and who.may("ingest", "anywhere")
    assert not who.may("read", "anywhere")
    assert who.tenants_for("read") == {"kusel", "linz"} and who.tenants_for("ingest") is None
    assert ("wizard", "kusel") not in who.roles


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(4)] == [0, 0, 0, 1]
    now[0] += 0.5  # one request's worth at 2 per second
    assert limiter.take("k") == 0 and limiter.take("k") == 1
    assert limiter.take("other") == 0  # buckets are per key
    assert all(limiter.take("free", rate=0) == 0 for _ in range(100))  # 0: unlimited


def test_log_lines_are_scrubbed_of_credentials() -> None:
    key = "vk_0123456789abcdef_" + "S" * 43
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    line = redact(f"got {key} and Authorization: Bearer secret-token and {jwt} and svc_abcdef")
    assert "S" * 43 not in line and "secret-token" not in line and "eyJzdWIi" not in line
    assert "abcdef" not in line.split("svc_")[1]
    assert "vk_0123456789abcdef_" in line  # the key's id stays, to tell keys apart
