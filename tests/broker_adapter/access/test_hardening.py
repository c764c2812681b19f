"""Hardening with authentication on: rate limits, the SSRF policy of @context fetching and subscriptions,
security headers, the audit log, no secret in logs, and the rules of VERBUND_AUTH itself."""

from __future__ import annotations

import json
import secrets
import stat
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from broker_adapter.access.egress import AddressPolicy
from tests.support.access import bearer
from tests.support.ngsild import assert_problem, context_link
from tests.support.server import BrokerProcess, free_port

CONTEXT = {"@context": {"Sensor": "https://example.org/ns/Sensor"}}


class Contexts:
    """@contexts on 127.0.0.1, and redirects (path -> Location); counts requests per path."""

    def __init__(self) -> None:
        self.redirects: dict[str, str] = {}
        self.hits: Counter[str] = Counter()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits[self.path] += 1
                if self.path in owner.redirects:
                    self.send_response(302)
                    self.send_header("Location", owner.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(CONTEXT).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/ld+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def contexts() -> Iterator[Contexts]:
    server = Contexts()
    yield server
    server.close()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """Auth on; @contexts may come from the host name "localhost" only (not from 127.0.0.1 by address)."""
    env = {"VERBUND_AUTH": "on", "VERBUND_CONTEXT_ALLOWED_HOSTS": "localhost", "VERBUND_RATE_LIMIT": "0"}
    process = BrokerProcess(tmp_path_factory.mktemp("guarded"), env=env).start()
    yield process
    process.stop()


def admin_key(broker: BrokerProcess) -> str:
    return (broker.data_dir / "admin.key").read_text().strip()


def create_sensor(broker: BrokerProcess, context_url: str) -> httpx.Response:
    return httpx.post(
        broker.url + "/ngsi-ld/v1/entities",
        json={"id": f"urn:ngsi-ld:Sensor:{uuid.uuid4().hex[:8]}", "type": "Sensor"},
        headers={**bearer(admin_key(broker)), "NGSILD-Tenant": "ssrf", "Link": context_link(context_url)},
    )


# rate limits ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    env = {"VERBUND_AUTH": "on", "VERBUND_RATE_LIMIT": "1", "VERBUND_RATE_BURST": "3"}
    process = BrokerProcess(tmp_path_factory.mktemp("limited"), env=env).start()
    yield process
    process.stop()


def _until_429(url: str, headers: dict[str, str], attempts: int = 30) -> httpx.Response:
    for _ in range(attempts):
        response = httpx.get(url, headers=headers)
        if response.status_code == 429:
            return response
    raise AssertionError(f"no 429 in {attempts} requests")


def test_a_credential_over_its_rate_gets_429_with_retry_after(limited: BrokerProcess) -> None:
    key = admin_key(limited)
    with httpx.Client(base_url=limited.url, headers=bearer(key)) as c:
        unlimited = c.post(
            "/verbund/v1/credentials", json={"role": "reader", "tenants": ["*"], "rateLimit": 0}
        )
        other = c.post("/verbund/v1/credentials", json={"role": "reader", "tenants": ["*"]})
    url = limited.url + "/ngsi-ld/v1/entities?type=T"
    refused = _until_429(url, bearer(key))
    assert_problem(refused, 429, "TooManyRequests")
    assert int(refused.headers["Retry-After"]) >= 1
    # limits are per credential: another key still has its own budget, an unlimited one has none
    assert httpx.get(url, headers=bearer(other.json()["key"])).status_code == 200
    assert all(httpx.get(url, headers=bearer(unlimited.json()["key"])).status_code == 200 for _ in range(20))


def test_guessing_credentials_is_rate_limited_per_address(limited: BrokerProcess) -> None:
    url = limited.url + "/ngsi-ld/v1/entities?type=T"
    refused = _until_429(url, bearer("vk_0123456789abcdef_" + "x" * 43))
    assert_problem(refused, 429, "TooManyRequests")


# SSRF ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "10.0.0.7", "192.168.1.20", "169.254.169.254", "0.0.0.0", "127.1.2.3"],
)
def test_contexts_on_internal_addresses_are_not_fetched(
    guarded: BrokerProcess, contexts: Contexts, host: str
) -> None:
    path = f"/{uuid.uuid4().hex}.jsonld"
    response = create_sensor(guarded, f"http://{host}:{contexts.port}{path}")
    problem = assert_problem(response, 400, "BadRequestData")
    assert "VERBUND_CONTEXT_ALLOWED_HOSTS" in problem["detail"]
    assert contexts.hits[path] == 0


def test_concurrent_requests_with_a_refused_context_all_get_the_same_400(
    guarded: BrokerProcess, contexts: Contexts
) -> None:
    """Requests that wait for one shared fetch get its refusal too (as 400, not a crash)."""
    url = f"http://127.0.0.1:{contexts.port}/{uuid.uuid4().hex}.jsonld"
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: create_sensor(guarded, url), range(16)))
    for response in answers:
        assert_problem(response, 400, "BadRequestData")


def test_an_allowed_host_name_is_fetched_but_not_a_redirect_to_an_internal_address(
    guarded: BrokerProcess, contexts: Contexts
) -> None:
    fine = f"/{uuid.uuid4().hex}.jsonld"
    assert create_sensor(guarded, f"http://localhost:{contexts.port}{fine}").status_code == 201
    assert contexts.hits[fine] == 1
    hop, target = f"/{uuid.uuid4().hex}.jsonld", f"/{uuid.uuid4().hex}.jsonld"
    contexts.redirects[hop] = f"http://127.0.0.1:{contexts.port}{target}"
    problem = assert_problem(
        create_sensor(guarded, f"http://localhost:{contexts.port}{hop}"), 400, "BadRequestData"
    )
    assert "redirected" in problem["detail"]
    assert contexts.hits[hop] == 1 and contexts.hits[target] == 0


def test_a_name_that_resolves_to_loopback_is_refused(guarded: BrokerProcess) -> None:
    """By name, not only by address: "localhost" resolves to loopback (for @contexts it is allowed here by
    name, so the subscription endpoint and the policy itself show it)."""
    assert "resolves to" in (AddressPolicy("").refusal("http://localhost:9/c.jsonld") or "")
    subscription = {"type": "Subscription", "entities": [{"type": "Sensor"}],
                    "notification": {"endpoint": {"uri": "http://localhost:9/notify"}}}  # fmt: skip
    response = httpx.post(
        guarded.url + "/ngsi-ld/v1/subscriptions",
        json=subscription,
        headers={**bearer(admin_key(guarded)), "NGSILD-Tenant": "ssrf"},
    )
    assert "resolves to" in assert_problem(response, 400, "BadRequestData")["detail"]


def test_the_connected_address_is_checked_as_well_as_the_dns_answer() -> None:
    """The guard against DNS rebinding: the answer at check time may differ from the address reached."""
    policy = AddressPolicy("")
    assert policy.peer_refusal("contexts.example.org", "127.0.0.1") is not None
    assert policy.peer_refusal("contexts.example.org", "10.1.2.3") is not None
    assert policy.peer_refusal("contexts.example.org", "93.184.216.34") is None
    assert AddressPolicy("ctx.internal").peer_refusal("ctx.internal", "10.1.2.3") is None


# headers, audit, logs ------------------------------------------------------------------------------------


def test_responses_carry_security_headers_and_no_third_party_docs(guarded: BrokerProcess) -> None:
    for response in (
        httpx.get(guarded.url + "/ngsi-ld/v1/entities?type=T", headers={"NGSILD-Tenant": "x"}),  # 401
        httpx.get(guarded.url + "/ngsi-ld/v1/entities?type=T", headers=bearer(admin_key(guarded))),  # 200
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    context = httpx.get(guarded.url + "/ngsi-ld/contexts/verbund.jsonld")
    assert context.status_code == 200 and context.headers["X-Content-Type-Options"] == "nosniff"
    assert httpx.get(guarded.url + "/docs").status_code == 404  # FastAPI's page loads Swagger UI from a CDN
    assert httpx.get(guarded.url + "/openapi.json").status_code == 200


def test_admin_and_credential_actions_are_audited_without_secrets(guarded: BrokerProcess) -> None:
    key = admin_key(guarded)
    tenant = "audit" + uuid.uuid4().hex[:6]
    with httpx.Client(base_url=guarded.url, headers=bearer(key)) as admin:
        body = {"tenant": tenant, "name": "Audit", "kind": "Stadt", "ags": "07312000", "bbox": [7, 49, 8, 50]}
        registered = admin.post("/verbund/v1/municipalities", json=body)
        first = registered.json()["credentials"]
        assert admin.delete(f"/verbund/v1/credentials/{first['id']}").status_code == 204
        retired = admin.post(f"/verbund/v1/municipalities/{tenant}/retire", json={"data": "delete"})
        assert retired.status_code == 200
        entries = admin.get("/verbund/v1/audit").json()
    admin_id = "apikey:" + key.split("_")[1]
    mine = [(e["actor"], e["action"], e["target"]) for e in entries if tenant in json.dumps(e)
            or e["target"] == f"apikey:{first['id']}"]  # fmt: skip
    assert mine == [
        (admin_id, "municipality.register", tenant),
        (admin_id, "credential.create", f"apikey:{first['id']}"),
        (admin_id, "credential.revoke", f"apikey:{first['id']}"),
        (admin_id, "municipality.retire", tenant),
    ]
    audit_file = guarded.data_dir / "audit.log"
    assert stat.S_IMODE(audit_file.stat().st_mode) == 0o600
    assert first["key"].split("_", 2)[2] not in audit_file.read_text()
    reader = httpx.post(guarded.url + "/verbund/v1/credentials", json={"role": "reader", "tenants": ["*"]},
                        headers=bearer(key)).json()["key"]  # fmt: skip
    assert_problem(httpx.get(guarded.url + "/verbund/v1/audit", headers=bearer(reader)), 403, "AccessDenied")


def test_no_secret_reaches_the_log(guarded: BrokerProcess) -> None:
    key = admin_key(guarded)
    created = httpx.post(
        guarded.url + "/verbund/v1/credentials",
        json={"role": "writer", "tenants": ["logs"]},
        headers=bearer(key),
    ).json()["key"]
    wrong = created[:-4] + "AAAA"  # the right id with a wrong secret
    assert httpx.get(guarded.url + "/ngsi-ld/v1/entities?type=T", headers=bearer(wrong)).status_code == 401
    log = guarded.log_path.read_text()
    for secret in (key, created, wrong, key.split("_", 2)[2], created.split("_", 2)[2]):
        assert secret not in log
    assert str((guarded.data_dir / "admin.key").resolve()) in log  # the log says where the key is
    assert stat.S_IMODE((guarded.data_dir / "admin.key").stat().st_mode) == 0o600


# VERBUND_AUTH ---------------------------------------------------------------------------------------------


def test_auth_off_is_refused_on_a_public_interface(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "verbund", "broker", "--host", "0.0.0.0", "--port", str(free_port()),
               "--data-dir", str(tmp_path)]  # fmt: skip
    env = {**BrokerProcess(tmp_path).env, "VERBUND_AUTH": "off"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "VERBUND_AUTH=off is only allowed when listening on loopback" in result.stderr


def test_auth_off_on_loopback_is_announced(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", env={"VERBUND_AUTH": "off"}).start()
    try:
        assert httpx.get(broker.url + "/ngsi-ld/v1/entities?type=T").status_code == 200
        assert "AUTHENTICATION IS OFF" in broker.log_path.read_text()
        assert not (tmp_path / "data" / "admin.key").exists()
    finally:
        broker.stop()


def test_a_restart_keeps_the_bootstrap_key(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", env={"VERBUND_AUTH": "on"}).start()
    try:
        key = admin_key(broker)
    finally:
        broker.stop()
    broker = BrokerProcess(tmp_path / "data", env={"VERBUND_AUTH": "on"}).start()
    try:
        assert admin_key(broker) == key
        assert httpx.get(broker.url + "/verbund/v1/auth/whoami", headers=bearer(key)).status_code == 200
    finally:
        broker.stop()


def test_a_configured_admin_key_replaces_the_bootstrap_file(tmp_path: Path) -> None:
    key = "vk_" + secrets.token_hex(8) + "_" + secrets.token_urlsafe(32)
    env = {"VERBUND_AUTH": "on", "VERBUND_ADMIN_KEY": key}
    broker = BrokerProcess(tmp_path / "data", env=env).start()
    try:
        me = httpx.get(broker.url + "/verbund/v1/auth/whoami", headers=bearer(key))
        assert me.status_code == 200, me.text
        assert {"role": "platform-admin", "tenant": "*"} in me.json()["roles"]
        assert not (tmp_path / "data" / "admin.key").exists()
        assert key not in broker.log_path.read_text()
        wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
        assert httpx.get(broker.url + "/verbund/v1/auth/whoami", headers=bearer(wrong)).status_code == 401
    finally:
        broker.stop()


def test_a_malformed_admin_key_stops_the_start(tmp_path: Path) -> None:
    env = {"VERBUND_AUTH": "on", "VERBUND_ADMIN_KEY": "not-a-key"}
    with pytest.raises(RuntimeError, match="VERBUND_ADMIN_KEY is not an API key"):
        BrokerProcess(tmp_path / "data", env=env).start(timeout=20)
