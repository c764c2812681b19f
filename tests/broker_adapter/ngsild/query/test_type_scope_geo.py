import pytest

from broker_adapter.ngsild.errors import BadRequestData, TooComplexQuery
from broker_adapter.ngsild.query.ast import And, GeoQuery, GeoRel, Or, ScopeMatch, TypeIs
from broker_adapter.ngsild.query.geo import haversine_m, parse_geo_query, project_aeqd
from broker_adapter.ngsild.query.selection import (
    Projection,
    parse_attrs,
    parse_pick_omit,
    parse_scope_query,
    parse_type_expression,
    render_scope_query,
    render_type_expression,
)
from broker_adapter.ngsild.termmap import core_term_map

DC = "https://uri.etsi.org/ngsi-ld/default-context/"
TM = core_term_map()
LOCATION = "https://uri.etsi.org/ngsi-ld/location"


def t(name: str) -> TypeIs:
    return TypeIs(DC + name)


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("Building", t("Building")),
        ("Building,Vehicle", Or((t("Building"), t("Vehicle")))),
        ("Building|Vehicle", Or((t("Building"), t("Vehicle")))),
        ("Building;Vehicle", And((t("Building"), t("Vehicle")))),
        ("(A|B);C", And((Or((t("A"), t("B"))), t("C")))),
        ("A;B,C", Or((And((t("A"), t("B"))), t("C")))),
        ("https://smartdatamodels.org/WaterObserved", TypeIs("https://smartdatamodels.org/WaterObserved")),
    ],
)
def test_parse_type_expression(expr: str, expected: object) -> None:
    tree = parse_type_expression(expr, TM)
    assert tree == expected
    assert parse_type_expression(render_type_expression(tree, TM), TM) == tree


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "type: empty expression at position 0"),
        ("A,", "type: unexpected end of input, expected a term at position 2"),
        ("A;(B", "type: '(' is not closed at position 2"),
        ("A B", "type: unexpected 'B'"),
        ("Bad$Name", "(at position 0)"),
        ("A,@type", "names starting with '@' are JSON-LD keywords (at position 2)"),
    ],
)
def test_parse_type_expression_rejects(expr: str, message: str) -> None:
    with pytest.raises(BadRequestData) as info:
        parse_type_expression(expr, TM)
    assert message in info.value.detail


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("/Madrid", ScopeMatch(("Madrid",))),
        ("/Madrid/Gardens/#", ScopeMatch(("Madrid", "Gardens"), descendants=True)),
        ("/Madrid/+/ParqueNorte", ScopeMatch(("Madrid", "+", "ParqueNorte"))),
        ("/#", ScopeMatch((), descendants=True)),
        (
            "(/Madrid/Districts;/CompanyA)|/CompanyB",
            Or(
                (
                    And((ScopeMatch(("Madrid", "Districts")), ScopeMatch(("CompanyA",)))),
                    ScopeMatch(("CompanyB",)),
                )
            ),
        ),
        ("/A,/B", Or((ScopeMatch(("A",)), ScopeMatch(("B",))))),
        ("/Kaiserslautern/Lauter_1", ScopeMatch(("Kaiserslautern", "Lauter_1"))),
    ],
)
def test_parse_scope_query(expr: str, expected: object) -> None:
    tree = parse_scope_query(expr)
    assert tree == expected
    assert parse_scope_query(render_scope_query(tree)) == tree


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("Madrid", "scopeQ: unexpected 'M', expected a scope starting with '/' at position 0"),
        ("/", "expected a scope level, '+' or '#' at position 1"),
        ("/A//B", "unexpected '/', expected a scope level, '+' or '#' at position 3"),
        ("/A/#/B", "unexpected '/'"),
        ("/A/B c", "unexpected 'c'"),
        ("/A|", "expected a term at position 3"),
    ],
)
def test_parse_scope_query_rejects(expr: str, message: str) -> None:
    with pytest.raises(BadRequestData) as info:
        parse_scope_query(expr)
    assert message in info.value.detail


def test_parse_attrs_expands_and_deduplicates() -> None:
    assert parse_attrs("temperature,humidity,temperature", TM) == (DC + "temperature", DC + "humidity")
    with pytest.raises(BadRequestData, match="attrs: empty name at position 12"):
        parse_attrs("temperature,,x", TM)
    with pytest.raises(BadRequestData, match=r"core member .*\(at position 2\)"):
        parse_attrs("a,observedAt", TM)
    with pytest.raises(TooComplexQuery):
        parse_attrs(",".join(f"a{i}" for i in range(300)), TM)


def test_parse_pick_omit() -> None:
    projection = parse_pick_omit("id,type,temperature", None, TM)
    assert projection == Projection(pick=frozenset({"id", "type", DC + "temperature"}))
    assert projection.keeps(DC + "temperature") and not projection.keeps(DC + "humidity")
    omit = parse_pick_omit(None, "humidity", TM)
    assert omit.keeps("id") and not omit.keeps(DC + "humidity")
    assert parse_pick_omit(None, None, TM) == Projection()
    with pytest.raises(BadRequestData, match="pick and omit cannot be used together"):
        parse_pick_omit("a", "b", TM)
    with pytest.raises(BadRequestData, match="linked-entity projection is not supported at position 2"):
        parse_pick_omit("a,b{c}", None, TM)


# -- geo ------------------------------------------------------------------------------------------


def test_parse_geo_query_near() -> None:
    geo = parse_geo_query("near;maxDistance==2000", "Point", "[8,40]", None, TM)
    assert geo == GeoQuery(GeoRel.NEAR, "Point", (8.0, 40.0), LOCATION, max_distance=2000.0)
    assert geo.geometry() == {"type": "Point", "coordinates": [8.0, 40.0]}
    geo = parse_geo_query("near;minDistance==1.5e3", "Point", [8, 40], "observationSpace", TM)
    assert (
        geo is not None
        and geo.min_distance == 1500.0
        and geo.geoproperty == "https://uri.etsi.org/ngsi-ld/observationSpace"
    )


def test_parse_geo_query_polygon() -> None:
    geo = parse_geo_query("within", "Polygon", "[[[100,0],[101,0],[101,1],[100,1],[100,0]]]", "location", TM)
    assert geo is not None and geo.georel is GeoRel.WITHIN
    assert geo.coordinates == (((100.0, 0.0), (101.0, 0.0), (101.0, 1.0), (100.0, 1.0), (100.0, 0.0)),)


def test_parse_geo_query_absent_is_none() -> None:
    assert parse_geo_query(None, None, None, None, TM) is None


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "message"),
    [
        ("near", "Point", "[8,40]", "near needs a distance"),
        ("near;maxDistance==0", "Point", "[8,40]", "distance '0' at position 18 must be a number > 0"),
        ("near;maxDistance==-5", "Point", "[8,40]", "must be a number > 0"),
        (
            "near;maxDistance=5",
            "Point",
            "[8,40]",
            "expected maxDistance==<metres> or minDistance==<metres> at position 5",
        ),
        ("near;distance==5", "Point", "[8,40]", "at position 5"),
        ("near;maxDistance==5", "Polygon", "[[[0,0],[1,0],[1,1],[0,0]]]", "near needs a Point"),
        ("around", "Point", "[8,40]", "'around' at position 0 is not a relation"),
        ("within;x", "Point", "[8,40]", "within takes no modifier (';' at position 6)"),
        ("within", "GeometryCollection", "[]", "'GeometryCollection' is not supported"),
        ("within", "Circle", "[8,40]", "'Circle' is not supported"),
        ("within", "Point", "[8,", "coordinates: not a JSON array"),
        ("within", "Point", '{"a":1}', "coordinates: must be a JSON array"),
        ("within", "Point", "[200,40]", "longitude 200 is outside [-180, 180]"),
        ("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,1]]]", "linear ring is not closed"),
        (None, "Point", "[8,40]", "georel: a geo-query needs georel, geometry and coordinates together"),
        ("within", None, "[8,40]", "geometry: a geo-query needs"),
    ],
)
def test_parse_geo_query_rejects(
    georel: str | None, geometry: str | None, coordinates: str, message: str
) -> None:
    with pytest.raises(BadRequestData) as info:
        parse_geo_query(georel, geometry, coordinates, None, TM)
    assert message in info.value.detail


def test_geoproperty_alone_is_rejected() -> None:
    with pytest.raises(BadRequestData, match="geoproperty: needs georel"):
        parse_geo_query(None, None, None, "location", TM)


def test_haversine_and_projection_agree_on_distance_from_the_centre() -> None:
    # One degree of latitude on the mean-radius sphere.
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195.08, abs=0.1)
    x, y = project_aeqd(7.75, 49.44, 7.80, 49.47)
    assert (x * x + y * y) ** 0.5 == pytest.approx(haversine_m(7.75, 49.44, 7.80, 49.47))
    assert x > 0 and y > 0  # north-east
