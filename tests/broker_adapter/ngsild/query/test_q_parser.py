import pytest

from broker_adapter.ngsild.errors import BadRequestData, OperationNotSupported, TooComplexQuery
from broker_adapter.ngsild.query._cursor import MAX_LENGTH
from broker_adapter.ngsild.query.ast import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    Exists,
    InList,
    InRange,
    Literal,
    Or,
    Pattern,
    ValueType,
)
from broker_adapter.ngsild.query.q import parse_q, render_q
from broker_adapter.ngsild.termmap import build_term_map, core_term_map

DC = "https://uri.etsi.org/ngsi-ld/default-context/"
TM = core_term_map()


def p(*names: str, member: str | None = None, keys: tuple[str, ...] = ()) -> AttrPath:
    return AttrPath(tuple(DC + n for n in names), member, keys)


def s(text: str) -> Literal:
    return Literal(ValueType.STRING, text, DC + text if text.isidentifier() else None)


def n(value: float) -> Literal:
    return Literal(ValueType.NUMBER, value)


VALID = [
    ("temperature", Exists(p("temperature"))),
    ("!temperature", Exists(p("temperature"), negated=True)),
    ("temperature==20", Compare(p("temperature"), CompareOp.EQ, n(20))),
    ("temperature!=-2.5e3", Compare(p("temperature"), CompareOp.NE, n(-2500.0))),
    ('brandName!="Mercedes"', Compare(p("brandName"), CompareOp.NE, s("Mercedes"))),
    (
        'speed>50;brandName!="Mercedes"',
        And(
            (
                Compare(p("speed"), CompareOp.GT, n(50)),
                Compare(p("brandName"), CompareOp.NE, s("Mercedes")),
            )
        ),
    ),
    (
        "a>1|b<2;c<=3",
        Or(
            (
                Compare(p("a"), CompareOp.GT, n(1)),
                And((Compare(p("b"), CompareOp.LT, n(2)), Compare(p("c"), CompareOp.LE, n(3)))),
            )
        ),
    ),
    (
        "((speed>50|rpm>3000);brandName)",
        And(
            (
                Or((Compare(p("speed"), CompareOp.GT, n(50)), Compare(p("rpm"), CompareOp.GT, n(3000)))),
                Exists(p("brandName")),
            )
        ),
    ),
    ("a;(b;c)", And((Exists(p("a")), Exists(p("b")), Exists(p("c"))))),
    ("a >= 1 ; b", And((Compare(p("a"), CompareOp.GE, n(1)), Exists(p("b"))))),
    (
        "temperature.observedAt>=2017-12-24T12:00:00Z",
        Compare(
            p("temperature", member="observedAt"),
            CompareOp.GE,
            Literal(ValueType.DATETIME, "2017-12-24T12:00:00.000Z"),
        ),
    ),
    (
        "t.modifiedAt<2017-12-24T13:00:00+01:00",
        Compare(
            p("t", member="modifiedAt"), CompareOp.LT, Literal(ValueType.DATETIME, "2017-12-24T12:00:00.000Z")
        ),
    ),
    ("d==2024-02-29", Compare(p("d"), CompareOp.EQ, Literal(ValueType.DATE, "2024-02-29"))),
    ("t<12:30:00Z", Compare(p("t"), CompareOp.LT, Literal(ValueType.TIME, "12:30:00Z"))),
    ("ok==true", Compare(p("ok"), CompareOp.EQ, Literal(ValueType.BOOLEAN, True))),
    ('address[city]=="Berlin"', Compare(p("address", keys=("city",)), CompareOp.EQ, s("Berlin"))),
    (
        "sensor.rawdata[airquality.particulate]==40",
        Compare(p("sensor", "rawdata", keys=("airquality", "particulate")), CompareOp.EQ, n(40)),
    ),
    ('color[*]=="red"', Compare(p("color", keys=("*",)), CompareOp.EQ, s("red"))),
    ('color[de-CH]=="rot"', Compare(p("color", keys=("de-CH",)), CompareOp.EQ, s("rot"))),
    (
        "isParked==urn:ngsi-ld:OffStreetParking:D1",
        Compare(
            p("isParked"),
            CompareOp.EQ,
            Literal(
                ValueType.URI,
                "urn:ngsi-ld:OffStreetParking:D1",
                "urn:ngsi-ld:OffStreetParking:D1",
            ),
        ),
    ),
    ("temperature==10..20", InRange(p("temperature"), n(10), n(20))),
    ("temperature!=1.5..2.5", InRange(p("temperature"), n(1.5), n(2.5), negated=True)),
    ('name=="a".."m"', InRange(p("name"), s("a"), s("m"))),
    ('color=="black","red"', InList(p("color"), (s("black"), s("red")))),
    ("n!=1,2,3", InList(p("n"), (n(1), n(2), n(3)), negated=True)),
    ("gender==Male", Compare(p("gender"), CompareOp.EQ, s("Male"))),
    ('name=="tab\\there \\u00e9"', Compare(p("name"), CompareOp.EQ, s("tab\there é"))),
    ("name~=^Kaiser.*", Pattern(p("name"), "^Kaiser.*")),
    ('name!~="(?i)a|b"', Pattern(p("name"), "(?i)a|b", negated=True)),
    ("name~=(a|b)c;x", And((Pattern(p("name"), "(a|b)c"), Exists(p("x"))))),
    ("größe>1", Compare(p("größe"), CompareOp.GT, n(1))),
]


@pytest.mark.parametrize(("q", "expected"), VALID, ids=[v[0] for v in VALID])
def test_parse_q_builds_the_expected_tree(q: str, expected: object) -> None:
    assert parse_q(q, TM) == expected


@pytest.mark.parametrize(("q", "_"), VALID, ids=[v[0] for v in VALID])
def test_render_q_round_trips(q: str, _: object) -> None:
    tree = parse_q(q, TM)
    assert parse_q(render_q(tree, TM), TM) == tree


INVALID = [
    ("", "q: empty expression at position 0"),
    ("a==", "unexpected end of input, expected a value at position 3"),
    ("(a", "'(' is not closed at position 0"),
    ("a;(b|c))", "unexpected ')' without a matching '(' at position 7"),
    ("a;", "unexpected end of input, expected a term at position 2"),
    ("|a", "unexpected '|', expected a term at position 0"),
    ("a;;b", "unexpected ';', expected a term at position 2"),
    ("()", "unexpected ')', expected a term at position 1"),
    ("a b", "unexpected 'b'"),
    ("a=1", "unexpected '=', expected an operator"),
    ("a===1", "unexpected '=' in a value"),
    ("a>true", "> needs a number, string, DateTime, Date or Time, not a Boolean at position 2"),
    ("a<urn:x:y", "< needs a number, string, DateTime, Date or Time, not a URI at position 2"),
    ("a>1..2", "a range is only allowed after == or !=, not > at position 3"),
    ("a<1,2", "a list of values is only allowed after == or !=, not < at position 3"),
    ('a==1.."x"', "range bounds must have the same type (Number and String) at position 6"),
    ("a==true..false", "a range bound must be a number, string or date/time, not a Boolean at position 3"),
    ('a=="open', "string is not closed (missing '\"') at position 3"),
    ('a=="bad \\x"', "invalid string: Invalid \\escape at position 8"),
    ("a==01", "'01' is not a valid number, DateTime, Date or Time at position 3"),
    ("a==1e999", "number '1e999' is out of range at position 3"),
    ("a==2017-13-01", "is not a valid Date"),
    ("a==2017-12-24T12:00:00", "has no time zone"),
    ("a==null", "unexpected 'n' in a value"),
    ("a==x y", "unexpected 'y'"),
    ("a==ab$c", "unexpected '$' in a value (quote strings: \"...\") at position 5"),
    ("a.", "unexpected end of input, expected an attribute name at position 2"),
    (".a", "unexpected '.', expected an attribute name at position 0"),
    ("a[b][c]==1", "only one [...] path is allowed; write a[b.c] for nested members at position 4"),
    ("a[b==1", "unexpected '=', expected '.' or ']' at position 3"),
    ("a[]==1", "unexpected ']', expected a member name inside [...] at position 2"),
    (
        "observedAt>2020-01-01T00:00:00Z",
        "'observedAt' is an NGSI-LD core member, not an attribute at position 0",
    ),
    ("a.value==1", "'value' is an NGSI-LD core member, not an attribute at position 2"),
    ("a.observedAt.b", "nothing can follow the core member 'observedAt' at position 12"),
    ("a.observedAt[x]", "a [...] path cannot follow the core member 'observedAt' at position 12"),
    ("a~=(a+)+", "a repeated group must not contain a quantifier or '|'"),
    (
        "a~=(a|aa)*$",
        "a repeated group must not contain a quantifier or '|' (catastrophic backtracking); use a",
    ),
    ("a~=(x)\\1", "backreferences are not supported at position 6"),
    ("a~=(?=x)", "lookarounds, backreferences and conditionals are not supported at position 3"),
    ("a~=a*b*c*d*", "more than 3 unbounded quantifiers"),
    ("a~=a{1000}", "repetition counts above 100 are not supported at position 4"),
    ("a~=[[:alpha:]]", "unsupported regular expression"),
    ("a~=[abc", "unterminated character class at position 3"),
    ("a~=", "empty regular expression at position 3"),
    ('a~="*x"', "invalid regular expression: nothing to repeat at position 4"),
]


@pytest.mark.parametrize(("q", "message"), INVALID, ids=[v[0] or "empty" for v in INVALID])
def test_parse_q_rejects_with_position(q: str, message: str) -> None:
    with pytest.raises(BadRequestData) as info:
        parse_q(q, TM)
    assert message in info.value.detail


def test_parse_q_rejects_linked_entity_paths_as_not_supported() -> None:
    with pytest.raises(OperationNotSupported, match="position 6"):
        parse_q("sensor{Device:humidity}==40", TM)


def test_parse_q_names_the_position_of_an_unmapped_term() -> None:
    tm = build_term_map([{"humidity": None, "temperature": "https://example.org/temperature"}])
    assert parse_q("temperature>1", tm) == Compare(
        AttrPath(("https://example.org/temperature",)), CompareOp.GT, Literal(ValueType.NUMBER, 1)
    )
    with pytest.raises(BadRequestData, match=r"^q: 'humidity' .* \(at position 14\)$"):
        parse_q("temperature>1;humidity<2", tm)


def test_parse_q_expands_names_with_the_callers_context_but_not_keys() -> None:
    tm = build_term_map([{"address": "https://schema.org/address", "city": "https://schema.org/city"}])
    tree = parse_q('address[city]=="Berlin"', tm)
    assert tree.path == AttrPath(("https://schema.org/address",), None, ("city",))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("q", "error"),
    [
        ("a" * (MAX_LENGTH + 1), "longer than 4096 characters"),
        ("(" * 40 + "a" + ")" * 40, "nested deeper than 32"),
        (";".join(f"a{i}" for i in range(300)), "more than 256 terms"),
        ("a==" + ",".join(["1"] * 300), "more than 256 terms"),
    ],
)
def test_parse_q_bounds_the_work_a_query_can_cause(q: str, error: str) -> None:
    with pytest.raises(TooComplexQuery, match=error):
        parse_q(q, TM)
