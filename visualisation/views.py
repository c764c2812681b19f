"""Rendering helpers shared by the pages: the template environment, URLs under the mount point, numbers
and times as people read them in each language, and JSON embedded for the page's script."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import orjson
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from visualisation.i18n import LABELS, language
from visualisation.sensors import parse_time

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("visualisation", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def base(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def embedded_json(value: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no closing tag or comment can be formed."""
    raw = orjson.dumps(value).decode()
    return Markup(raw.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def number(value: float | None, lang: str, digits: int = 2) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    if lang == "de":
        text = text.replace(",", " ").replace(".", ",").replace(" ", ".")
    return text


def when(raw: str | None, lang: str) -> str:
    parsed = parse_time(raw)
    if parsed is None:
        return "–"
    local = parsed.astimezone()  # the server's zone; the page's script shows the reader's own
    return local.strftime("%d.%m.%Y %H:%M" if lang == "de" else "%Y-%m-%d %H:%M")


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    root = base(request)

    def url(path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        query["lang"] = lang
        return f"{root}{path}?{urlencode(query)}"

    def other_language(code: str) -> str:
        params = dict(request.query_params)
        params["lang"] = code
        return f"{request.url.path}?{urlencode(params)}"

    html = ENV.get_template(template).render(
        lang=lang,
        t=LABELS[lang],
        root=root,
        url=url,
        quote=lambda s: quote(s, safe=":"),
        other_language=other_language,
        number=lambda v, d=2: number(v, lang, d),
        when=lambda raw: when(raw, lang),
        embedded_json=embedded_json,
        now=datetime.now().astimezone(),
        **context,
    )
    return HTMLResponse(html, status_code=status)
