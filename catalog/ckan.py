"""Optional push of a municipality's datasets to an existing CKAN (its action API, through ckanapi).

Configured per municipality (`VERBUND_CATALOG_CKAN_CONFIG`): {tenant: {"url", "apiKey", "ownerOrg"}}.
Idempotent: each package is looked up by name (package_show) and created or updated; a package is sent
only when its content changed (a digest per package is kept), and a withdrawn dataset's package is deleted.
Times in the package are rounded to the hour, so a sensor reporting every minute does not rewrite the
package every minute.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from typing import Any

import anyio.to_thread
import ckanapi

from catalog.model import DatasetView, Links, Views
from catalog.store import CatalogStore
from catalog.vocab import THEME as THEMES
from catalog.vocab import geocoding_level, geocoding_uris, licence_uri

log = logging.getLogger("verbund.catalog")
USER_AGENT = "verbund-catalog"


def _hour(value: str | None) -> str | None:
    return value[:13] + ":00:00Z" if value else None


def package(view: DatasetView, links: Links, owner_org: str | None) -> dict[str, Any]:
    """The CKAN package of a dataset (core fields, DCAT-AP.de extras as ckanext-dcatde names them)."""
    town, row = view.municipality, view.row
    extras = {
        "uri": links.dataset(view.slug),
        "identifier": view.slug,
        "issued": row.issued,
        "modified": _hour(row.modified),
        "temporal_start": _hour(row.first_observed),
        "temporal_end": _hour(row.last_observed),
        "spatial": json.dumps(_box(row.bbox)) if row.bbox else None,
        "politicalGeocodingLevelURI": str(geocoding_level(town.kind)),
        "politicalGeocodingURI": json.dumps(
            [str(u) for u in geocoding_uris(town.kind, town.ags, town.regionalschluessel)]
        ),
        "theme": json.dumps([str(THEMES[t]) for t in view.themes]),
        "licenseAttributionByText": town.attribution,
        "language": "http://publications.europa.eu/resource/authority/language/DEU",
    }
    resources = [
        {"name": "NGSI-LD", "url": links.ngsi_ld_query(view), "format": "JSON-LD",
         "mimetype": "application/ld+json", "description": f"NGSILD-Tenant: {town.tenant}"},
        {"name": "CSV", "url": links.download(view.slug, "current.csv"), "format": "CSV",
         "mimetype": "text/csv"},
        {"name": "GeoJSON", "url": links.download(view.slug, "current.geojson"), "format": "GeoJSON",
         "mimetype": "application/geo+json"},
        {"name": "CSV (Zeitreihen)", "url": links.download(view.slug, "history.csv"), "format": "CSV",
         "mimetype": "text/csv"},
    ]  # fmt: skip
    body: dict[str, Any] = {
        "name": view.slug,
        "title": view.title_de,
        "notes": view.description_de,
        "url": links.dataset(view.slug),
        "author": town.name,
        "maintainer": town.contact.get("name") or town.name,
        "maintainer_email": town.contact.get("email"),
        "license_id": str(licence_uri(town.licence)).rsplit("/licenses/", 1)[-1],
        "tags": [{"name": w} for w in (*view.info.keywords_de, view.type)],
        "extras": [{"key": k, "value": v} for k, v in extras.items() if v],
        "resources": resources,
    }
    if owner_org:
        body["owner_org"] = owner_org
    return body


def _box(bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    w, s, e, n = bbox
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class CkanPusher:
    def __init__(self, config: dict[str, dict[str, Any]], store: CatalogStore, links: Links) -> None:
        self.config = config
        self.store = store
        self.links = links

    async def push(self, views: Views) -> None:
        for tenant, target in self.config.items():
            mine = [v for v in views.published() if v.municipality.tenant == tenant]
            try:
                await anyio.to_thread.run_sync(self._push_tenant, tenant, target, mine)
            except (ckanapi.CKANAPIError, OSError) as exc:  # requests' errors are OSErrors
                log.warning("CKAN push failed", extra={"tenant": tenant, "detail": str(exc)[:300]})

    def _push_tenant(self, tenant: str, target: dict[str, Any], views: list[DatasetView]) -> None:
        remote = ckanapi.RemoteCKAN(target["url"], apikey=target.get("apiKey"), user_agent=USER_AGENT)
        for view in views:
            body = package(view, self.links, target.get("ownerOrg"))
            body_digest = digest(body)
            if self.store.ckan_digest(tenant, view.slug) == body_digest:
                continue
            try:
                remote.action.package_show(id=view.slug)
            except ckanapi.NotFound:
                remote.action.package_create(**body)
                log.info("CKAN package created", extra={"tenant": tenant, "package": view.slug})
            else:
                remote.action.package_update(**body)
                log.info("CKAN package updated", extra={"tenant": tenant, "package": view.slug})
            self.store.ckan_pushed(tenant, view.slug, body_digest)
        published = {v.slug for v in views}
        for slug in self.store.ckan_slugs(tenant):
            if slug not in published:
                with contextlib.suppress(ckanapi.NotFound):  # already gone: fine
                    remote.action.package_delete(id=slug)
                log.info("CKAN package deleted", extra={"tenant": tenant, "package": slug})
                self.store.ckan_pushed(tenant, slug, None)
