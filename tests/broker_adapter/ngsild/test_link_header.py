import pytest

from broker_adapter.ngsild.errors import InvalidRequest
from broker_adapter.ngsild.link_header import JSONLD_CONTEXT_REL, context_link, parse_context_link

CTX = "https://example.org/ctx.jsonld"
REL = JSONLD_CONTEXT_REL


def test_context_link_renders_the_json_ld_form() -> None:
    assert context_link(CTX) == f'<{CTX}>; rel="{REL}"; type="application/ld+json"'


def test_rendered_link_parses_back() -> None:
    assert parse_context_link(context_link(CTX)) == CTX


@pytest.mark.parametrize(
    ("header", "url"),
    [
        (None, None),
        ("", None),
        (f"<{CTX}>; rel={REL}", CTX),
        (f'<{CTX}>;rel="{REL}";type="application/ld+json"', CTX),
        (f'  < {CTX} >  ;  rel = "{REL}" ; type = "application/ld+json"  ', CTX),
        (f'<{CTX}>; REL="{REL}"', CTX),
        (f'<https://a.org/next>; rel="next", <{CTX}>; rel="{REL}"', CTX),
        (f'<https://a.org/x,y>; rel="next"; title="a, b; c", <{CTX}>; rel="{REL}"', CTX),
        (f'<{CTX}>; rel="alternate {REL}"', CTX),
        ('<https://a.org/next>; rel="next"', None),
        (f'<{CTX}>; rel="{REL}"; title="say \\"hi\\""', CTX),
        (f'<{CTX}>; rel="{REL}"; rel="next"', CTX),  # first rel counts
        (["<https://a.org/n>; rel=next", f'<{CTX}>; rel="{REL}"'], CTX),  # several Link headers
    ],
)
def test_parse_context_link(header: str | list[str] | None, url: str | None) -> None:
    assert parse_context_link(header) == url


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (f'{CTX}; rel="{REL}"', "expected '<'"),
        (f'<{CTX}; rel="{REL}"', "unclosed '<'"),
        (f'<{CTX}> rel="{REL}"', "expected ';'"),
        (f'<{CTX}>; rel="{REL}', "unclosed quote"),
        (f'<{CTX}>; rel="{REL}", <https://b.org/c>; rel="{REL}"', "more than one"),
    ],
)
def test_malformed_or_ambiguous_links_are_invalid_requests(header: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_context_link(header)
