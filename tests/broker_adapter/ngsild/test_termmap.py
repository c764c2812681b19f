from typing import Any

import pytest

from broker_adapter.ngsild.core_context import (
    CORE_CONTEXT,
    DEFAULT_VOCAB,
    NGSI_LD_PREFIX,
    is_core_context_url,
)
from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.termmap import TermMap, build_term_map, canonical_hash, core_term_map

EX = "http://example.org/"
ETSI = NGSI_LD_PREFIX


@pytest.mark.parametrize(
    ("contexts", "term", "iri"),
    [
        ([], "location", ETSI + "location"),
        ([], "attributeCount", DEFAULT_VOCAB + "attributeCount"),  # maps to itself: @vocab-relative
        ([], "temperature", DEFAULT_VOCAB + "temperature"),
        ([], "ngsi-ld:foo", ETSI + "foo"),
        ([], "urn:ngsi-ld:Thing:1", "urn:ngsi-ld:Thing:1"),
        ([], "http://other.org/x", "http://other.org/x"),
        ([], "_:b0", "_:b0"),
        ([{"temperature": "ex:temperature", "ex": EX}], "temperature", EX + "temperature"),  # prefix later
        ([{"ex": EX}, {"temperature": "ex:temperature"}], "temperature", EX + "temperature"),
        ([{"ex": EX, "temp": "temperature", "temperature": "ex:t"}], "temp", EX + "t"),  # term refers to term
        ([{"ex": EX}], "ex:speed", EX + "speed"),
        ([{"ex": {"@id": EX}}], "ex:speed", "ex:speed"),  # not a simple term: no prefix flag
        ([{"ex": {"@id": EX[:-1], "@prefix": True}}], "ex:speed", EX[:-1] + "speed"),
        ([{"schema": "https://schema.org"}], "schema:name", "schema:name"),  # no gen-delim: no prefix
        ([{"ex:speed": {"@type": "@id"}, "ex": EX}], "ex:speed", EX + "speed"),
        ([{"Vehicle": {"@id": "Vehicle"}}], "Vehicle", DEFAULT_VOCAB + "Vehicle"),
        ([{"Vehicle": "ngsi-ld:Vehicle"}], "Vehicle", ETSI + "Vehicle"),  # user terms may use core prefixes
        ([{"@vocab": "http://vocab.org/"}], "speed", "http://vocab.org/speed"),
        ([{"@vocab": "http://vocab.org/"}, {"@vocab": None}], "speed", DEFAULT_VOCAB + "speed"),
        ([{"@vocab": "ngsi-ld:"}], "speed", ETSI + "speed"),
        ([{"a": EX + "a"}, None, {"b": EX + "b"}], "a", DEFAULT_VOCAB + "a"),  # null resets user terms
        ([[{"a": EX + "a"}, [{"b": "a"}]]], "b", EX + "a"),  # nested arrays
        ([{"@version": 1.1, "@protected": True, "@base": "http://b/", "a": EX + "a"}], "a", EX + "a"),
        ([{"value": EX + "value", "Property": EX + "P"}], "value", ETSI + "hasValue"),  # core wins
        ([{"a": {"@id": EX + "a", "@container": ["@set", "@index"], "@language": "de"}}], "a", EX + "a"),
    ],
)
def test_expand_name(contexts: list[Any], term: str, iri: str) -> None:
    assert build_term_map(contexts).expand_name(term) == iri


@pytest.mark.parametrize(
    ("contexts", "iri", "term"),
    [
        ([], ETSI + "location", "location"),
        ([], DEFAULT_VOCAB + "temperature", "temperature"),
        ([], DEFAULT_VOCAB + "location", "ngsi-ld:default-context/location"),  # "location" is taken
        ([], ETSI + "foo", "ngsi-ld:foo"),
        ([], "urn:ngsi-ld:x", "urn:ngsi-ld:x"),
        ([{"ex": EX, "speed": "ex:speed"}], EX + "speed", "speed"),
        ([{"ex": EX}], EX + "other", "ex:other"),
        ([{"ex": EX, "e": EX}], EX + "other", "e:other"),  # shortest prefix
        ([{"speed": EX + "s", "velocity": EX + "s", "v2": EX + "s", "v1": EX + "s"}], EX + "s", "v1"),
        ([{"@vocab": EX}], EX + "speed", "speed"),
        ([{"@vocab": EX, "speed": EX + "other"}], EX + "speed", "http://example.org/speed"),  # suffix taken
        ([{"@vocab": EX, "ex": EX}], EX + "a:b", "ex:a:b"),  # suffix "a:b" would read as an IRI
        ([{"temperature": None}], DEFAULT_VOCAB + "temperature", "ngsi-ld:default-context/temperature"),
        ([{"ex": EX}], "http://nowhere.org/x", "http://nowhere.org/x"),
    ],
)
def test_compact_name(contexts: list[Any], iri: str, term: str) -> None:
    term_map = build_term_map(contexts)
    assert term_map.compact_name(iri) == term
    if term != iri:
        assert term_map.expand_name(term) == iri


@pytest.mark.parametrize(
    ("contexts", "message"),
    [
        ([{"a": "b:x", "b": "a:y"}], "cyclic"),
        ([{"a": {"@id": "b"}, "b": {"@id": "a"}}], "cyclic"),
        ([{"ex": "ex:foo"}], "cyclic"),
        ([{"a": {"@id": EX + "a", "@context": {"b": EX + "b"}}}], "scoped @context"),
        ([{"@import": "http://example.org/ctx.jsonld"}], "@import"),
        ([{"@version": 1.0}], "@version"),
        ([{"@vocab": 5}], "@vocab"),
        ([{"@id": EX}], "keyword redefinition"),
        ([{"a": 5}], "must be a string, object or null"),
        ([{"a": {"@reverse": EX + "r"}}], "@reverse"),
        ([{"a": {"@id": EX + "a", "@container": "@bag"}}], "@container"),
        ([{"a": {"@id": EX + "a", "foo": 1}}], "unsupported member"),
        ([{"@protected": True, "a": EX + "a"}, {"a": EX + "b"}], "protected"),
        (["http://example.org/not-resolved.jsonld"], "resolved"),
    ],
)
def test_invalid_contexts_are_bad_request_data(contexts: list[Any], message: str) -> None:
    with pytest.raises(BadRequestData, match=message):
        build_term_map(contexts)


def test_redefining_protected_term_identically_is_allowed() -> None:
    term_map = build_term_map([{"@protected": True, "a": EX + "a"}, {"a": EX + "a"}])
    assert term_map.expand_name("a") == EX + "a"


def test_unmapped_term_cannot_be_expanded() -> None:
    term_map = build_term_map([{"a": EX + "a"}, {"a": None}])
    with pytest.raises(BadRequestData, match="unmapped"):
        term_map.expand_name("a")


def test_core_scoped_context_is_ignored_and_core_terms_are_complete() -> None:
    core = core_term_map()
    terms = [t for t in CORE_CONTEXT if not t.startswith("@")]
    assert len(terms) > 170
    for term in terms:
        assert core.expand_name(term)  # every core term is defined
    assert core.definition("observedAt") is not None
    assert core.term_type("observedAt") == ETSI + "DateTime"
    assert core.term_type("object") == "@id"
    assert core.term_type("vocab") == "@vocab"
    assert core.term_type("nope") is None
    assert core.expand_name("id") == "@id"


def test_vocab_values() -> None:
    term_map = build_term_map([{"ex": EX, "Electric": "ex:Electric"}])
    assert term_map.expand_vocab("Electric") == EX + "Electric"
    assert term_map.expand_vocab("Diesel") == DEFAULT_VOCAB + "Diesel"
    assert term_map.expand_vocab("id") == DEFAULT_VOCAB + "id"
    assert term_map.compact_vocab(EX + "Electric") == "Electric"
    assert term_map.compact_vocab(DEFAULT_VOCAB + "Diesel") == "Diesel"


def test_term_maps_are_cached_hashable_and_keyed_by_content() -> None:
    a = build_term_map([{"a": EX + "a", "b": EX + "b"}])
    b = build_term_map([{"b": EX + "b", "a": EX + "a"}])
    c = build_term_map([{"a": EX + "z"}])
    assert a is b
    assert a == b and hash(a) == hash(b) and a != c
    assert a.key == canonical_hash([{"a": EX + "a", "b": EX + "b"}])
    assert {a: 1}[b] == 1
    assert core_term_map() is core_term_map()
    assert isinstance(core_term_map(), TermMap)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld", True),
        ("http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld", True),
        *[(f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.{n}.jsonld", True) for n in range(10)],
        ("http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld", True),
        ("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v2.0.jsonld", False),
        ("https://example.org/ngsi-ld-core-context.jsonld", False),
        ("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld?x=1", False),
    ],
)
def test_is_core_context_url(url: str, expected: bool) -> None:
    assert is_core_context_url(url) is expected


# JSON-LD oracle: where TermMap follows plain JSON-LD 1.1 (core placed last), pyld must agree.
ORACLE_CASES = [
    ([{"ex": EX, "temperature": "ex:temperature"}], "temperature"),
    ([{"temperature": "ex:temperature", "ex": EX}], "temperature"),
    ([{"ex": EX}], "ex:speed"),
    ([{"ex": {"@id": EX}}], "ex:speed"),
    ([{"schema": "https://schema.org"}], "schema:name"),
    ([{"ex:speed": {"@type": "@id"}, "ex": EX}], "ex:speed"),
    ([{"value": EX + "value"}], "value"),
    ([{"a": EX + "a"}, {"b": "a"}], "b"),
    ([], "urn:ngsi-ld:x"),
    ([], "speed"),
]


@pytest.mark.parametrize(("contexts", "term"), ORACLE_CASES)
def test_expansion_agrees_with_pyld(contexts: list[Any], term: str) -> None:
    from pyld import jsonld

    core = {k: v for k, v in CORE_CONTEXT.items() if k != "ngsildproof"}

    def no_network(url: str, options: Any = None) -> Any:
        raise AssertionError(f"pyld tried to load {url}")

    expanded = jsonld.expand({"@context": [*contexts, core], term: "x"}, {"documentLoader": no_network})
    assert [*expanded[0]] == [build_term_map(contexts).expand_name(term)]
