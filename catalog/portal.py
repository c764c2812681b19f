"""The open-data portal: plain HTML (no JavaScript), rendered on the server from the same views as the RDF.

/                      list and search (text, municipality, theme), paged
/dataset/{id}          one dataset: facts, map extent (inline SVG), attribute table, downloads, metadata
/municipality/{tenant} the municipality's datasets (the search, filtered)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from catalog.mapsvg import extent_svg
from catalog.metadata import dataset_rdf, negotiated_format
from catalog.model import DatasetView
from catalog.vocab import THEME_LABELS, licence_uri

PAGE = 25
MAX_QUERY = 200
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    service = request.app.state.catalog
    html = _templates.get_template(name).render(
        base=service.links.base, root=request.scope.get("root_path", ""), themes=THEME_LABELS, **context
    )
    return HTMLResponse(html, status_code=status)


def _matches(view: DatasetView, words: list[str]) -> bool:
    text = " ".join(
        (view.title_de, view.title_en, view.description_de, view.description_en, view.type,
         view.municipality.name, *view.info.keywords_de, *view.info.keywords_en)
    ).casefold()  # fmt: skip
    return all(w in text for w in words)


async def home(request: Request) -> Response:
    service = request.app.state.catalog
    params = request.query_params
    query = params.get("q", "")[:MAX_QUERY]
    tenant = params.get("municipality", "")[:60]
    theme = params.get("theme", "")[:10]
    raw_page = params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < len(raw_page) < 7 and int(raw_page) > 0 else 1
    views = service.views.published()
    municipalities = sorted({(v.municipality.tenant, v.municipality.name) for v in views}, key=lambda m: m[1])
    words = query.casefold().split()
    found = [
        v
        for v in views
        if (not tenant or v.municipality.tenant == tenant)
        and (not theme or theme in v.themes)
        and _matches(v, words)
    ]
    found.sort(key=lambda v: (v.municipality.name, v.info.title_de))
    pages = max(1, -(-len(found) // PAGE))
    page = min(page, pages)
    return _render(
        request, "index.html",
        found=found[(page - 1) * PAGE : page * PAGE], total=len(found), page=page, pages=pages,
        query=query, tenant=tenant, theme=theme, municipalities=municipalities,
    )  # fmt: skip


async def dataset_page(request: Request) -> Response:
    service = request.app.state.catalog
    slug = request.path_params["slug"]
    fmt = negotiated_format(request)
    if fmt is not None:
        return await dataset_rdf(request, slug, fmt)
    view = service.views.by_slug(slug)
    if view is None:
        if service.views.withdrawn(slug) is not None:
            return _render(request, "error.html", 410, title="Datensatz zurückgezogen",
                           detail="Dieser Datensatz wird nicht mehr veröffentlicht.")  # fmt: skip
        return not_found(request)
    town = view.municipality
    points = service.store.entity_points(town.tenant, view.type, 500)
    svg = extent_svg(f"Räumliche Ausdehnung: {view.title_de}", view.row.bbox, town.area, town.bbox, points)
    return _render(
        request, "dataset.html",
        view=view, town=town, map_svg=Markup(svg), points=len(points), links=service.links,
        licence_url=str(licence_uri(town.licence)),
        attributes=sorted(view.row.attributes.items()),
    )  # fmt: skip


async def municipality_page(request: Request) -> Response:
    query = urlencode({"municipality": request.path_params["tenant"]})
    return RedirectResponse(f"{request.scope.get('root_path', '')}/?{query}", status_code=303)


def not_found(request: Request) -> Response:
    return _render(request, "error.html", 404, title="Nicht gefunden",
                   detail="Diese Seite gibt es im Katalog nicht.")  # fmt: skip


ROUTES = [
    Route("/", home, name="portal_home"),
    Route("/dataset/{slug}", dataset_page),
    Route("/municipality/{tenant}", municipality_page),
]
