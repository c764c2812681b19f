import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.names import (
    MAX_SCOPES,
    MAX_TERM_LENGTH,
    MAX_URI_LENGTH,
    RESERVED_ATTRIBUTE_NAMES,
    check_attribute_name,
    check_entity_id,
    check_name,
    check_scope,
    check_uri,
    is_uri,
)

VALID_URIS = [
    "urn:ngsi-ld:WaterObserved:lauter-1",
    "urn:ngsi-ld:Vehicle:A4567",
    "https://smartdatamodels.org/dataModel.Environment/WaterObserved",
    "http://example.org/ns#temperature",
    "https://example.org/a?b=c&d=e#frag",
    "https://user:pw@example.org:8080/x",
    "http://[2001:db8::1]:1026/ngsi-ld/v1",
    "http://[::1]/",
    "file:///etc/hosts",
    "mailto:stadtwerke@kaiserslautern.de",
    "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    "urn:ngsi-ld:Street:Fu%C3%9Fg%C3%A4ngerzone",
    "urn:ngsi-ld:Straße:Fußgängerzone",  # IRI (RFC 3987), which NGSI-LD allows
    "urn:ngsi-ld:建物:東京-1",
    "ngsi-ld:Vehicle",  # compact IRI has URI syntax
    "x-custom+scheme.v1:anything",
    "urn:ngsi-ld:A:" + "a" * (MAX_URI_LENGTH - 14),
]


@pytest.mark.parametrize("uri", VALID_URIS)
def test_is_uri_accepts(uri):
    assert is_uri(uri)
    assert check_entity_id(uri, "id") == uri


INVALID_URIS = [
    ("", "empty"),
    ("Vehicle", "no scheme"),
    ("A4567", "no scheme"),
    (":foo", "no scheme"),
    ("1urn:x", "no scheme"),
    ("ur n:x", "no scheme"),
    ("a/b:c", "no scheme"),
    ("urn:", "nothing follows the scheme"),
    ("urn:ngsi-ld:Vehicle:A 4567", "whitespace ' ' at position 21"),
    ("urn:ngsi-ld:Vehicle:A4567 ", "whitespace"),
    ("urn:ngsi-ld:Vehicle:A\t1", "whitespace '\\t'"),
    ("urn:ngsi-ld:Vehicle:A\x001", "control character"),
    ("urn:ngsi-ld:Vehicle:A\x7f", "control character"),
    ("urn:ngsi-ld:Vehicle:<A>", "'<'"),
    ('urn:ngsi-ld:Vehicle:"A"', "'\"'"),
    ("urn:ngsi-ld:Vehicle:A{1}", "'{'"),
    ("urn:ngsi-ld:Vehicle:A|B", "'|'"),
    ("urn:ngsi-ld:Vehicle:A\\B", "'\\\\'"),
    ("urn:ngsi-ld:Vehicle:A^B", "'^'"),
    ("urn:ngsi-ld:Vehicle:A`B", "'`'"),
    ("urn:ngsi-ld:Vehicle:A\u00a0B", "U+00A0"),  # no-break space
    ("urn:ngsi-ld:Vehicle:A\u200eB", "U+200E"),  # left-to-right mark (bidi format)
    ("urn:ngsi-ld:Vehicle:A\u2028B", "U+2028"),
    ("urn:ngsi-ld:Vehicle:A\ue000B", "U+E000"),  # private use
    ("urn:ngsi-ld:Vehicle:A\ufffeB", "U+FFFE"),  # noncharacter
    ("urn:ngsi-ld:Vehicle:A%2", "'%' at position 21"),
    ("urn:ngsi-ld:Vehicle:A%zz", "two hexadecimal digits"),
    ("urn:ngsi-ld:Vehicle:100%", "two hexadecimal digits"),
    ("http://example.org/a#b#c", "more than one '#'"),
    ("urn:ngsi-ld:Vehicle:[1]", "'[' and ']'"),
    ("http://example.org/[x]", "'[' and ']'"),
    ("http://exa[mple.org/", "'[' and ']'"),
    ("http://[::1/", "no closing ']'"),
    ("http://[::1]x/", "after the IP-literal"),
    ("http://example.org:80a/", "port '80a'"),
    ("urn:ngsi-ld:A:" + "a" * (MAX_URI_LENGTH - 13), "longer than 2048"),
]


@pytest.mark.parametrize(("uri", "words"), INVALID_URIS)
def test_check_entity_id_rejects_with_path_and_reason(uri, words):
    assert not is_uri(uri)
    with pytest.raises(BadRequestData) as info:
        check_entity_id(uri, "entities[3].id")
    detail = info.value.detail
    assert detail.startswith("entities[3].id: entity id "), detail
    assert words in detail, detail
    assert len(detail) < 400


@pytest.mark.parametrize("value", [None, 42, ["urn:a:b"], {"id": "urn:a:b"}, b"urn:a:b"])
def test_check_entity_id_rejects_non_strings(value):
    assert not is_uri(value)
    with pytest.raises(BadRequestData, match=r"^id: entity id must be a URI string"):
        check_entity_id(value, "id")


def test_check_uri_names_what_it_checks():
    with pytest.raises(BadRequestData, match=r"^owner\.object: Relationship object 'bob' is not a valid URI"):
        check_uri("bob", "owner.object", "Relationship object")
    assert check_uri("urn:ngsi-ld:Person:bob", "owner.object") == "urn:ngsi-ld:Person:bob"


@given(st.text(max_size=300))
def test_is_uri_never_crashes_and_agrees_with_check_uri(text):
    try:
        check_uri(text, "x")
    except BadRequestData:
        assert not is_uri(text)
    else:
        assert is_uri(text)
        assert text[0].isascii() and text[0].isalpha()
        assert not any(c.isspace() for c in text)


def test_is_uri_is_linear_on_adversarial_input():
    # Would take ages with a backtracking URI regex; here each is a few passes over the string.
    for text in ("a" * 1_000_000, "urn:" + "%" * 2000, "http://" + "[" * 2000, "a:" + "é" * 2040):
        is_uri(text)


VALID_NAMES = [
    "temperature",
    "WaterObserved",
    "dateObserved",
    "pm2_5",
    "_private",
    "CO2",
    "2ndLevel",
    "Temperatur",
    "Wasserstandsmessung",
    "Straße",
    "ｎａｍｅ",  # full-width letters (the ETSI request behind Orion-LD's relaxed name rules)
    "温度",
    "नमस्ते",  # Devanagari with combining vowel signs
    "https://smartdatamodels.org/dataModel.Environment/height",
    "https://uri.etsi.org/ngsi-ld/default-context/quality",
    "http://example.org/ns#temp",
    "schema:name",
    "a" * MAX_TERM_LENGTH,
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_check_name_accepts(name):
    assert check_name(name, "type") == name


INVALID_NAMES = [
    ("", "must not be empty"),
    ("water level", "whitespace ' ' at position 5"),
    (" temperature", "whitespace"),
    ("temp\n", "whitespace '\\n'"),
    ("temp\x00", "control character"),
    ("temp<1>", "'<'"),
    ('temp"', "'\"'"),
    ("temp'", '"\'"'),
    ("temp=1", "'='"),
    ("temp;drop", "';'"),
    ("temp(1)", "'('"),
    ("temp[0]", "'['"),
    ("a&b", "'&'"),
    ("a?b", "'?'"),
    ("a#b", "'#'"),
    ("a.b", "'.'"),
    ("a,b", "','"),
    ("a/b", "'/'"),
    ("a%20b", "'%'"),
    ("-ab", "'-'"),
    ("温 度", "whitespace"),
    ("\u0301abc", "combining mark"),
    ("@context", "JSON-LD keywords"),
    ("@id", "JSON-LD keywords"),
    ("http://example.org/a b", "not a valid IRI"),
    ("schema:", "not a valid IRI"),
    (":temperature", "not a valid IRI"),
    ("a" * (MAX_TERM_LENGTH + 1), "longer than 256"),
]


@pytest.mark.parametrize(("name", "words"), INVALID_NAMES)
def test_check_name_rejects_with_path(name, words):
    with pytest.raises(BadRequestData) as info:
        check_name(name, "entities[0].type")
    detail = info.value.detail
    assert detail.startswith("entities[0].type: name"), detail
    assert words in detail, detail
    assert len(detail) < 400


@pytest.mark.parametrize("value", [None, 3, ["Vehicle"], {"@id": "x"}])
def test_check_name_rejects_non_strings(value):
    with pytest.raises(BadRequestData, match=r"^type: entity type must be a string"):
        check_name(value, "type", "entity type")


@pytest.mark.parametrize(
    "name", ["id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt", "observedAt",
             "value", "object", "datasetId", "instanceId", "unitCode", "languageMap", "vocab", "json",
             "https://uri.etsi.org/ngsi-ld/createdAt", "https://uri.etsi.org/ngsi-ld/observedAt"],
)  # fmt: skip
def test_check_attribute_name_rejects_reserved_names(name):
    assert name in RESERVED_ATTRIBUTE_NAMES
    with pytest.raises(BadRequestData) as info:
        check_attribute_name(name, f"attrs.{name}")
    assert info.value.detail.startswith(f"attrs.{name}: ")
    assert "core member" in info.value.detail


@pytest.mark.parametrize("name", ["location", "observationSpace", "operationSpace", "name", "temperature"])
def test_check_attribute_name_allows_predefined_geoproperties_and_user_names(name):
    assert name not in RESERVED_ATTRIBUTE_NAMES
    assert check_attribute_name(name, "attr") == name


def test_check_attribute_name_applies_name_rules():
    with pytest.raises(BadRequestData, match=r"^attrs: attribute name 'a b'"):
        check_attribute_name("a b", "attrs")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Kaiserslautern", ["/Kaiserslautern"]),
        ("/Kaiserslautern/Lauter", ["/Kaiserslautern/Lauter"]),
        (["/Madrid/Gardens/ParqueNorte", "/Madrid/District/Latina"],
         ["/Madrid/Gardens/ParqueNorte", "/Madrid/District/Latina"]),
        (["/A", "/B", "/A"], ["/A", "/B"]),
        ("/Köln/Innenstadt_Nord/2024", ["/Köln/Innenstadt_Nord/2024"]),
        ("/東京/港区", ["/東京/港区"]),
    ],
)  # fmt: skip
def test_check_scope_accepts(value, expected):
    assert check_scope(value, "scope") == expected


INVALID_SCOPES = [
    ("Kaiserslautern", "scope", "starts with '/'"),
    ("", "scope", "empty"),
    ("/", "scope", "no level"),
    ("/A/", "scope", "empty level"),
    ("/A//B", "scope", "empty level"),
    ("/A/B C", "scope", "whitespace ' '"),
    ("/A/#", "scope", "'#'"),
    ("/A/+", "scope", "'+'"),
    ("/A/b.c", "scope", "'.'"),
    ("/" + "a" * 300, "scope", "longer than 256"),
    (["/A", "B"], "scope[1]", "starts with '/'"),
    (["/A", 7], "scope[1]", "must be a string"),
    ([], "scope", "empty array"),
    (["/A"] * (MAX_SCOPES + 1), "scope", "more than 100 scopes"),
    (7, "scope", "string or an array"),
    ({"/A": 1}, "scope", "string or an array"),
    (None, "scope", "string or an array"),
]


@pytest.mark.parametrize(("value", "path", "words"), INVALID_SCOPES)
def test_check_scope_rejects_with_path(value, path, words):
    with pytest.raises(BadRequestData) as info:
        check_scope(value, "scope")
    detail = info.value.detail
    assert detail.startswith(path + ":"), detail
    assert words in detail, detail


_level = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Nd"]) | st.just("_"), min_size=1, max_size=10
)


@given(st.lists(_level, min_size=1, max_size=5))
def test_scopes_built_from_valid_levels_are_accepted(levels):
    scope = "/" + "/".join(levels)
    assert check_scope(scope, "scope") == [scope]
