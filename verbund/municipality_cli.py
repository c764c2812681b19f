"""`verbund municipality add|list|show|update|retire`: the registry's admin API from the command line.

It talks to a running broker over HTTP rather than opening the store, so a registration from the
command line does exactly what one through the API does (the running broker applies the tenant's
settings, creates the feed subscriptions, refreshes its caches, checks the caller and writes the audit
log), and it works the same against a remote installation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from verbund.settings import Settings

API = "/verbund/v1/municipalities"


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "municipality",
        help="register, list, show, update and retire municipalities (through the broker's admin API)",
        description="Manage the municipality registry of a running broker (see docs/access.md).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--broker-url", help="the broker (default: this installation's, http://127.0.0.1:1026)"
    )
    common.add_argument(
        "--token",
        help="API key or JWT (default: $VERBUND_TOKEN, else the bootstrap key <data-dir>/admin.key)",
    )
    common.add_argument("--data-dir", help="where to look for admin.key (default ./data)")
    commands = parser.add_subparsers(dest="municipality_command", metavar="ACTION", required=True)
    add = commands.add_parser("add", parents=[common], help="register a municipality")
    add.add_argument("tenant", help="tenant id, e.g. kaiserslautern")
    _record_options(add)
    listing = commands.add_parser("list", parents=[common], help="list municipalities")
    listing.add_argument("--status", choices=["active", "retired"])
    listing.add_argument("--region")
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    show = commands.add_parser("show", parents=[common], help="print a municipality's record (JSON)")
    show.add_argument("tenant")
    update = commands.add_parser("update", parents=[common], help="change a municipality's record")
    update.add_argument("tenant")
    _record_options(update)
    update.add_argument("--unset", action="append", default=[], metavar="MEMBER", help="remove a member")
    retire = commands.add_parser("retire", parents=[common], help="retire a municipality")
    retire.add_argument("tenant")
    retire.add_argument(
        "--data", choices=["keep", "export", "delete"], default="keep", help="what happens to its data"
    )


def _record_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", type=Path, help="a JSON file with (part of) the record; flags win")
    parser.add_argument("--name", help="official name")
    parser.add_argument("--kind", help="Stadt, Kreisfreie Stadt, Verbandsgemeinde, Landkreis, ...")
    parser.add_argument("--ags", help="8-digit Amtlicher Gemeindeschlüssel")
    parser.add_argument("--regionalschluessel", help="12-digit Regionalschlüssel")
    parser.add_argument("--bbox", help="minLon,minLat,maxLon,maxLat")
    parser.add_argument("--licence", help="dcat-ap.de licence id (default dl-by-de/2.0)")
    parser.add_argument("--licence-attribution", dest="licenceAttribution")
    parser.add_argument("--open-data", dest="openData", action="store_true", default=None)
    parser.add_argument("--no-open-data", dest="openData", action="store_false")
    parser.add_argument("--sdm-policy", dest="sdmPolicy", choices=["off", "warn", "enforce"])
    parser.add_argument("--history-retention", dest="historyRetention", help="ISO 8601 duration, e.g. P5Y")
    parser.add_argument("--region", dest="regions", action="append", help="member of this region (repeat)")
    for member in ("name", "email", "url", "phone"):
        parser.add_argument(f"--contact-{member}", dest=f"contact_{member}")


def _record(args: argparse.Namespace) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if args.file is not None:
        record = json.loads(args.file.read_text())
        if not isinstance(record, dict):
            raise SystemExit(f"{args.file}: expected a JSON object")
    for member in (
        "name", "kind", "ags", "regionalschluessel", "licence", "licenceAttribution", "openData",
        "sdmPolicy", "historyRetention", "regions",
    ):  # fmt: skip
        value = getattr(args, member)
        if value is not None:
            record[member] = value
    if args.bbox is not None:
        try:
            record["bbox"] = [float(v) for v in args.bbox.split(",")]
        except ValueError as exc:
            raise SystemExit("--bbox: expected four numbers minLon,minLat,maxLon,maxLat") from exc
    contact = {m: getattr(args, f"contact_{m}") for m in ("name", "email", "url", "phone")}
    contact = {m: v for m, v in contact.items() if v is not None}
    if contact:
        record["contactPoint"] = {**record.get("contactPoint", {}), **contact}
    return record


def _token(args: argparse.Namespace, settings: Settings) -> str | None:
    if args.token:
        return args.token
    if os.environ.get("VERBUND_TOKEN"):
        return os.environ["VERBUND_TOKEN"]
    key_file = Path(settings.data_dir) / "admin.key"
    try:
        return key_file.read_text().strip() or None
    except OSError:
        return None


def run(args: argparse.Namespace, settings: Settings) -> int:
    # agents_northbound_url: this installation's broker on loopback (also when it listens on 0.0.0.0)
    url = (args.broker_url or settings.agents_northbound_url).rstrip("/")
    token = _token(args, settings)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    action = args.municipality_command
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            if action == "add":
                response = client.post(API, json={"tenant": args.tenant, **_record(args)})
            elif action == "list":
                params = {k: v for k, v in (("status", args.status), ("region", args.region)) if v}
                response = client.get(API, params=params)
            elif action == "show":
                response = client.get(f"{API}/{args.tenant}")
            elif action == "update":
                patch: dict[str, Any] = {**_record(args), **dict.fromkeys(args.unset)}
                response = client.patch(f"{API}/{args.tenant}", json=patch)
            else:
                response = client.post(f"{API}/{args.tenant}/retire", json={"data": args.data})
    except httpx.HTTPError as exc:
        print(f"verbund municipality: cannot reach the broker at {url}: {exc}", file=sys.stderr)
        return 1
    if response.status_code >= 400:
        print(f"verbund municipality {action}: {_problem(response)}", file=sys.stderr)
        return 1
    body = response.json()
    if action == "list" and not args.json:
        for record in body:
            regions = ",".join(record.get("regions", []))
            print(
                f"{record['tenant']:<24} {record.get('ags', ''):<9} {record.get('status', ''):<8} "
                f"{record.get('kind', ''):<24} {record.get('name', '')}"
                + (f"  [{regions}]" if regions else "")
            )
        return 0
    print(json.dumps(body, indent=2, ensure_ascii=False))
    return 0


def _problem(response: httpx.Response) -> str:
    try:
        problem = response.json()
        return f"{response.status_code} {problem.get('title', '')}: {problem.get('detail', '')}"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"
