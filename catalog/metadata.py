"""The catalog's metadata endpoints: /catalog.{ttl,rdf,jsonld} (paged with ?page=N for harvesters),
/dataset/{id}.{ttl,rdf,jsonld}, and content negotiation on /catalog and /dataset/{id}.

Rendering RDF is CPU work in rdflib, so it runs in a worker thread; a page is cached until the store changes.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from catalog.dcat import FORMATS, catalog_graph, dataset_graph, serialize
from catalog.feed import problem

_BY_MEDIA = {media: fmt for fmt, (_, media) in FORMATS.items()}


def negotiated_format(request: Request) -> str | None:
    """The RDF format the Accept header prefers over HTML, or None (HTML)."""
    best: tuple[float, str | None] = (0.0, None)
    for part in request.headers.get("accept", "").split(",")[:20]:
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        fmt = _BY_MEDIA.get(media.lower())
        if media.lower() in ("text/html", "application/xhtml+xml"):
            fmt = None
            if q >= best[0]:
                best = (q, None)
            continue
        if fmt is not None and q > best[0]:
            best = (q, fmt)
    return best[1]


def _rdf(body: bytes, fmt: str) -> Response:
    return Response(body, media_type=FORMATS[fmt][1] + ("; charset=utf-8" if fmt == "ttl" else ""))


async def catalog_document(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in FORMATS:
        return problem(404, "Not found", f"no catalog format {fmt!r}; use ttl, rdf or jsonld")
    raw_page = request.query_params.get("page", "1")
    if not raw_page.isdigit() or int(raw_page) < 1 or len(raw_page) > 9:
        return problem(400, "Bad request", f"page must be a positive integer, not {raw_page[:20]!r}")
    return await _catalog_page(request, fmt, int(raw_page))


async def _catalog_page(request: Request, fmt: str, page: int) -> Response:
    service = request.app.state.catalog
    views = service.views.published()
    size = service.config.page_size
    pages = max(1, -(-len(views) // size))
    if page > pages:
        return problem(404, "Not found", f"the catalog has {pages} page(s)")
    key = ("catalog", fmt, page, service.store.version)
    body = service.rendered.get(key)
    if body is None:
        graph = await anyio.to_thread.run_sync(
            lambda: catalog_graph(
                views, service.links, service.config.publisher, fmt=fmt, page=page, page_size=size
            )
        )
        body = await anyio.to_thread.run_sync(serialize, graph, fmt)
        service.remember(key, body)
    return _rdf(body, fmt)


async def catalog_resource(request: Request) -> Response:
    """/catalog: the catalog's URI; RDF for RDF clients, the portal for browsers."""
    fmt = negotiated_format(request)
    if fmt is None:
        return RedirectResponse(str(request.url_for("portal_home")), status_code=303)
    return await _catalog_page(request, fmt, 1)


async def dataset_document(request: Request) -> Response:
    slug, fmt = request.path_params["slug"], request.path_params["fmt"]
    if fmt not in FORMATS:
        return problem(404, "Not found", f"no dataset format {fmt!r}; use ttl, rdf or jsonld")
    return await dataset_rdf(request, slug, fmt)


async def dataset_rdf(request: Request, slug: str, fmt: str) -> Response:
    service = request.app.state.catalog
    view = service.views.by_slug(slug)
    if view is None:
        if service.views.withdrawn(slug) is not None:
            return problem(410, "Gone", f"the dataset {slug} was withdrawn")
        return problem(404, "Not found", f"there is no published dataset {slug}")
    graph = dataset_graph(view, service.links)
    return _rdf(await anyio.to_thread.run_sync(serialize, graph, fmt), fmt)


ROUTES = [
    Route("/catalog.{fmt}", catalog_document),
    Route("/catalog", catalog_resource),
    Route("/dataset/{slug}.{fmt}", dataset_document),
]
