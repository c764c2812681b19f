"""``python -m bench.access [--requests N]``: what authentication costs on the hottest read.

GET /ngsi-ld/v1/entities/{id} is driven in-process through the broker's whole ASGI stack (metrics,
security headers, the access gate, the retrieve fast path; no sockets), so the figures isolate the
per-request CPU cost of the gate from uvicorn and the network:

    auth off                     VERBUND_AUTH=off
    API key                      VERBUND_AUTH=on, the bootstrap key (verified once, then cached)
    JWT                          VERBUND_AUTH=on, an RS256 token from a local JWKS (verified once, cached)
    anonymous open data          VERBUND_AUTH=on, no credential, an openData municipality

Each variant has its own data directory; rounds interleave the variants and the best is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

ENTITY = "urn:ngsi-ld:WaterObserved:lauter-1"
PATH = f"/ngsi-ld/v1/entities/{ENTITY}"
TENANT = "kaiserslautern"
VARIANTS = ("auth off", "API key", "JWT", "anonymous open data")


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + ([(b"content-length", str(len(body)).encode())] if method in ("POST", "PATCH", "PUT") else []),
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 1026),
    }  # fmt: skip
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def jwks_token(folder: Path) -> tuple[dict[str, str], str]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "k1"}]}))
    env = {"VERBUND_JWKS": str(path), "VERBUND_JWT_ISSUER": "https://idp", "VERBUND_JWT_AUDIENCE": "verbund"}
    claims = {"iss": "https://idp", "aud": "verbund", "sub": "bench", "exp": int(time.time()) + 3600,
              "roles": [f"reader@{TENANT}"]}  # fmt: skip
    return env, jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


async def prepare(variant: str, folder: Path, stack: contextlib.AsyncExitStack) -> tuple[Any, dict[str, str]]:
    """A started broker app for the variant, with its municipality and entity; the GET's headers."""
    from broker_adapter.api.app import create_app
    from verbund.settings import load_settings

    env = {"VERBUND_AUTH": "off" if variant == "auth off" else "on", "VERBUND_LOG_LEVEL": "error",
           "VERBUND_NOTIFY_PROCESS": "inline", "VERBUND_RATE_LIMIT": "0"}  # fmt: skip
    token = None
    if variant == "JWT":
        jwt_env, token = jwks_token(folder)
        env |= jwt_env
    data = folder / "data"
    app = create_app(load_settings({**os.environ, **env}, data_dir=str(data)))
    await stack.enter_async_context(app.api.router.lifespan_context(app.api))
    admin = {}
    if variant != "auth off":
        admin = {"Authorization": f"Bearer {(data / 'admin.key').read_text().strip()}"}
    record = {"tenant": TENANT, "name": "Kaiserslautern", "kind": "Kreisfreie Stadt", "ags": "07312000",
              "bbox": [7.6, 49.3, 7.9, 49.5], "openData": variant == "anonymous open data"}  # fmt: skip
    posting = {**admin, "Content-Type": "application/json"}
    status, _ = await call(app, "POST", "/verbund/v1/municipalities", posting, json.dumps(record).encode())
    assert status == 201, status
    entity = {"id": ENTITY, "type": "WaterObserved", "height": {"type": "Property", "value": 1.42}}
    posting["NGSILD-Tenant"] = TENANT
    status, _ = await call(app, "POST", "/ngsi-ld/v1/entities", posting, json.dumps(entity).encode())
    assert status == 201, status
    if variant == "API key":
        token = admin["Authorization"].split(" ", 1)[1]
    headers = {"NGSILD-Tenant": TENANT, **({"Authorization": f"Bearer {token}"} if token else {})}
    status, _ = await call(app, "GET", PATH, headers)
    assert status == 200, (variant, status)
    return app, headers


def gate_scope(headers: dict[str, str]) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": PATH, "client": ("127.0.0.1", 50000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}  # fmt: skip


async def time_gate(app: Any, headers: dict[str, str], requests: int) -> float:
    """µs per request spent in the access gate alone (authenticate from cache, rate limit, authorise)."""
    admit = app.state.access.admit
    scope = gate_scope(headers)
    started = time.perf_counter()
    for _ in range(requests):
        await admit(scope)
    return (time.perf_counter() - started) / requests * 1e6


async def measure_all(requests: int, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Rounds interleave the variants, so a busy machine slows all of them alike; the best round counts.
    Returns µs per whole request and µs in the gate alone, per variant."""
    best: dict[str, float] = {}
    gate: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            apps = {v: await prepare(v, Path(tmp) / str(n), stack) for n, v in enumerate(VARIANTS)}
            for _ in range(rounds):
                for variant, (app, headers) in apps.items():
                    started = time.perf_counter()
                    for _ in range(requests):
                        await call(app, "GET", PATH, headers)
                    elapsed = (time.perf_counter() - started) / requests * 1e6
                    best[variant] = min(best.get(variant, elapsed), elapsed)
                    alone = await time_gate(app, headers, requests * 10)
                    gate[variant] = min(gate.get(variant, alone), alone)
    return best, gate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.access", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5_000, help="requests per round (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args()
    results, gate = asyncio.run(measure_all(args.requests, args.rounds))
    base = results["auth off"]
    print(f"GET /ngsi-ld/v1/entities/{{id}} in-process, best of {args.rounds} rounds x {args.requests}")
    print(f"  {'variant':<22} {'whole request':>14} {'vs auth off':>12} {'in the gate':>12}")
    for variant, micros in results.items():
        print(f"  {variant:<22} {micros:11.1f} µs {micros - base:+9.1f} µs {gate[variant]:9.2f} µs")


if __name__ == "__main__":
    main()
