"""The municipality record (shared contract 1): checking a new record and merge-patching a stored one.

Pure functions over JSON objects; every problem is a BadRequestData naming the member, and nothing is
stored unless the whole record is valid. Derived members are filled in here, once:

    ags                 from the Regionalschlüssel (its digits 1-5 and 10-12) when only that is given
    bbox                from the area when only the area is given
    licence             dl-by-de/2.0 when none is given
    licenceAttribution  the official name when the licence requires attribution and none is given
"""

from __future__ import annotations

import re
from typing import Any

from broker_adapter.ngsild.durations import parse_duration
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.geojson import bbox_of, validate_geometry
from smart_data_models.policy import Policy

TENANT_RE = re.compile(r"[a-z][a-z0-9_-]{1,49}")
REGION_RE = TENANT_RE  # regions share the namespace of NGSILD-Tenant values (see access/regions.py)
KINDS = (
    "Stadt",
    "Kreisfreie Stadt",
    "Verbandsgemeinde",
    "Verbandsfreie Gemeinde",
    "Ortsgemeinde",
    "Landkreis",
    "Zweckverband",
)
# The dcat-ap.de licence vocabulary (https://www.dcat-ap.de/def/licenses/<id>).
LICENCES = frozenset(
    {
        "apache", "bsd", "cc-by", "cc-by/4.0", "cc-by-de/3.0", "cc-by-nc", "cc-by-nc/4.0",
        "cc-by-nc-de/3.0", "cc-by-nd", "cc-by-nd/3.0", "cc-by-nd/4.0", "cc-by-sa", "cc-by-sa/4.0",
        "cc-by-sa-de/3.0", "cc-nc", "ccpdm/1.0", "cc-zero", "dl-by-de/1.0", "dl-by-de/2.0",
        "dl-by-nc-de/1.0", "dl-zero-de/2.0", "geonutz/20130319", "geoNutz/20131001", "gfdl", "gpl/3.0",
        "mozilla", "odbl", "odby", "odcpddl", "officialWork", "other-closed", "other-commercial",
        "other-freeware", "other-open", "other-opensource",
    }
)  # fmt: skip
DEFAULT_LICENCE = "dl-by-de/2.0"
_ATTRIBUTION_PREFIXES = ("dl-by-", "cc-by", "odby", "odbl")
_CONTACT_MEMBERS = ("name", "email", "url", "phone")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_RE = re.compile(r"\+?[0-9 ()/-]{3,40}")
MAX_TEXT = 300
MAX_REGIONS = 50

WRITABLE = (
    "name", "kind", "ags", "regionalschluessel", "area", "bbox", "contactPoint", "licence",
    "licenceAttribution", "openData", "sdmPolicy", "historyRetention", "regions",
)  # fmt: skip
SYSTEM = ("status", "createdAt", "modifiedAt", "retiredAt")
ACTIVE, RETIRED = "active", "retired"
DATA_MODES = ("keep", "export", "delete")
DATA_MODES_DOC = (
    "What happens to the tenant's data: keep (stays in the broker, read-only), export (written as one JSON "
    "array of NGSI-LD entities under <data dir>/exports/, then deleted) or delete."
)


def check_tenant(raw: Any, path: str = "tenant") -> str:
    if not isinstance(raw, str) or not TENANT_RE.fullmatch(raw):
        raise BadRequestData(
            f"{path}: a tenant id is 2-50 characters: a lowercase letter, then lowercase letters, digits, "
            f"'_' or '-' (got {str(raw)[:60]!r})"
        )
    return raw


def new_record(body: Any, now: str) -> dict[str, Any]:
    """A complete record from a registration body (POST)."""
    if not isinstance(body, dict):
        raise BadRequestData("a municipality is a JSON object")
    _refuse_unknown(body, ("tenant", *WRITABLE, *SYSTEM))
    for member in SYSTEM:
        if member in body and not (member == "status" and body[member] == ACTIVE):
            raise BadRequestData(f"{member} is set by the registry, not by the request")
    record = {"tenant": check_tenant(body.get("tenant"))}
    record.update({k: v for k, v in body.items() if k in WRITABLE})
    record.update(status=ACTIVE, createdAt=now, modifiedAt=now)
    return checked(record)


def patched_record(stored: dict[str, Any], patch: Any, now: str) -> dict[str, Any]:
    """stored with a JSON merge-patch (RFC 7396) applied: null removes an optional member."""
    if not isinstance(patch, dict):
        raise BadRequestData("a municipality patch is a JSON object")
    _refuse_unknown(patch, ("tenant", *WRITABLE, *SYSTEM))
    for member in ("tenant", *SYSTEM):
        if member in patch and patch[member] != stored.get(member):
            raise BadRequestData(f"{member} cannot be changed (retire a municipality with POST .../retire)")
    record = dict(stored)
    for key, value in patch.items():
        if key not in WRITABLE:
            continue
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    # Derived members follow their source: a new area brings a new bbox unless one is given too.
    if patch.get("area") is not None and "bbox" not in patch:
        record.pop("bbox", None)
    if patch.get("regionalschluessel") is not None and "ags" not in patch:
        record.pop("ags", None)
    if patch.get("licence") is not None and "licenceAttribution" not in patch:
        record.pop("licenceAttribution", None)
    record["modifiedAt"] = now
    return checked(record)


def checked(record: dict[str, Any]) -> dict[str, Any]:
    """Validate every member and fill in the derived ones; returns the record."""
    name = _text(record, "name", required=True)
    kind = record.get("kind")
    if kind not in KINDS:
        raise BadRequestData(f"kind: {str(kind)[:60]!r} is not one of {', '.join(KINDS)}")
    _keys(record)
    _area(record)
    if "contactPoint" in record:
        _contact(record["contactPoint"])
    licence = record.setdefault("licence", DEFAULT_LICENCE)
    if licence not in LICENCES:
        raise BadRequestData(
            f"licence: {str(licence)[:60]!r} is not a dcat-ap.de licence id "
            "(https://www.dcat-ap.de/def/licenses/, e.g. dl-by-de/2.0, dl-zero-de/2.0, cc-by/4.0)"
        )
    if "licenceAttribution" in record:
        _text(record, "licenceAttribution")
    elif licence.startswith(_ATTRIBUTION_PREFIXES):
        record["licenceAttribution"] = name
    open_data = record.setdefault("openData", False)
    if not isinstance(open_data, bool):
        raise BadRequestData("openData: expected true or false")
    if "sdmPolicy" in record:
        try:
            Policy.from_json(record["sdmPolicy"])
        except ValueError as exc:
            raise BadRequestData(f"sdmPolicy: {exc}") from exc
    if "historyRetention" in record:
        parse_duration(record["historyRetention"], "historyRetention")
    regions = record.setdefault("regions", [])
    if not isinstance(regions, list) or len(regions) > MAX_REGIONS:
        raise BadRequestData(f"regions: expected an array of at most {MAX_REGIONS} region names")
    for i, region in enumerate(regions):
        if not isinstance(region, str) or not REGION_RE.fullmatch(region):
            raise BadRequestData(f"regions[{i}]: a region name is written like a tenant id (e.g. suedwest)")
    if len(set(regions)) != len(regions):
        raise BadRequestData("regions: a region is named twice")
    return record


def _refuse_unknown(body: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(k for k in body if k not in known)
    if unknown:
        raise BadRequestData(f"unknown member(s) {', '.join(repr(k)[:60] for k in unknown)}")


def _text(record: dict[str, Any], member: str, *, required: bool = False) -> str:
    value = record.get(member)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise BadRequestData(f"{member}: expected a non-empty text of at most {MAX_TEXT} characters")
    return value


def _keys(record: dict[str, Any]) -> None:
    """AGS (8 digits: Land, Regierungsbezirk, Kreis, Gemeinde) and Regionalschlüssel (12 digits: the
    same with the 4-digit Gemeindeverband before the Gemeinde); at least one, consistent when both."""
    ags, rs = record.get("ags"), record.get("regionalschluessel")
    if ags is None and rs is None:
        raise BadRequestData(
            "give ags (8-digit Amtlicher Gemeindeschlüssel) or regionalschluessel (12 digits)"
        )
    if rs is not None:
        if not isinstance(rs, str) or not re.fullmatch(r"\d{12}", rs):
            raise BadRequestData(f"regionalschluessel: expected 12 digits, got {str(rs)[:40]!r}")
        _land(rs, "regionalschluessel")
    if ags is not None:
        if not isinstance(ags, str) or not re.fullmatch(r"\d{8}", ags):
            raise BadRequestData(f"ags: expected 8 digits, got {str(ags)[:40]!r}")
        _land(ags, "ags")
    if rs is not None:
        derived = rs[:5] + rs[9:]
        if ags is None:
            record["ags"] = derived
        elif ags != derived:
            raise BadRequestData(
                f"ags {ags} does not match regionalschluessel {rs} (whose AGS is {derived}: "
                "its digits 1-5 and 10-12)"
            )


def _land(key: str, member: str) -> None:
    if not 1 <= int(key[:2]) <= 16:
        raise BadRequestData(f"{member}: {key} does not start with a Land code 01-16")


def _area(record: dict[str, Any]) -> None:
    area, bbox = record.get("area"), record.get("bbox")
    if area is None and bbox is None:
        raise BadRequestData(
            "give area (a GeoJSON Polygon or MultiPolygon) or bbox [minLon, minLat, maxLon, maxLat]"
        )
    if area is not None:
        if not isinstance(area, dict) or area.get("type") not in ("Polygon", "MultiPolygon"):
            raise BadRequestData("area: expected a GeoJSON Polygon or MultiPolygon")
        validate_geometry(area, "area")
    if bbox is not None:
        if (
            not isinstance(bbox, list)
            or len(bbox) != 4
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)
        ):
            raise BadRequestData("bbox: expected [minLon, minLat, maxLon, maxLat] (four numbers)")
        min_lon, min_lat, max_lon, max_lat = bbox
        if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
            raise BadRequestData("bbox: longitudes must lie in -180..180, latitudes in -90..90, min <= max")
        if min_lon > max_lon:
            raise BadRequestData("bbox: minLon is greater than maxLon")
    elif area is not None:
        record["bbox"] = list(bbox_of(area))


def _contact(contact: Any) -> None:
    if not isinstance(contact, dict) or not contact:
        raise BadRequestData("contactPoint: expected an object with name, email, url and/or phone")
    unknown = sorted(k for k in contact if k not in _CONTACT_MEMBERS)
    if unknown:
        raise BadRequestData(f"contactPoint: unknown member(s) {', '.join(repr(k)[:40] for k in unknown)}")
    for member, value in contact.items():
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise BadRequestData(f"contactPoint.{member}: expected a non-empty text")
    if "email" in contact and not _EMAIL_RE.fullmatch(contact["email"]):
        raise BadRequestData(f"contactPoint.email: {contact['email'][:60]!r} is not an e-mail address")
    if "url" in contact and not re.match(r"https?://[^\s/]+", contact["url"]):
        raise BadRequestData("contactPoint.url: expected an http or https URL")
    if "phone" in contact and not _PHONE_RE.fullmatch(contact["phone"]):
        raise BadRequestData("contactPoint.phone: expected a phone number (digits, spaces, + ( ) / -)")
