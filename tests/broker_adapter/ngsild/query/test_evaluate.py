from typing import Any

import pytest

from broker_adapter.ngsild.query.ast import combine
from broker_adapter.ngsild.query.evaluate import matches
from broker_adapter.ngsild.query.geo import parse_geo_query
from broker_adapter.ngsild.query.q import parse_q
from broker_adapter.ngsild.query.selection import parse_scope_query, parse_type_expression
from broker_adapter.ngsild.termmap import build_term_map, core_term_map

DC = "https://uri.etsi.org/ngsi-ld/default-context/"
TM = core_term_map()
LOCATION = "https://uri.etsi.org/ngsi-ld/location"


def prop(value: Any, **members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value, **members}


ENTITY: dict[str, Any] = {
    "id": "urn:ngsi-ld:Vehicle:A1",
    "type": [DC + "Vehicle", DC + "Asset"],
    "scope": ["/Kaiserslautern/Lauter", "/CompanyA"],
    "createdAt": "2026-01-01T00:00:00.000Z",
    "modifiedAt": "2026-01-02T00:00:00.000Z",
    "attrs": {
        DC + "speed": [prop(80, observedAt="2026-01-01T12:00:00.000Z", unitCode="KMH")],
        DC + "brandName": [prop("Mercedes")],
        DC + "temperature": [
            prop(20.5, datasetId="urn:ngsi-ld:Dataset:a"),
            prop(31, datasetId="urn:ngsi-ld:Dataset:b"),
        ],
        DC + "colors": [prop(["blue", "red", "green"])],
        DC + "address": [prop({"city": "Berlin", "geo": {"zip": "10115"}})],
        DC + "active": [prop(True)],
        DC + "since": [prop({"@type": "DateTime", "@value": "2025-06-01T08:00:00.000Z"})],
        DC + "day": [prop({"@type": "Date", "@value": "2025-06-01"})],
        DC + "opens": [prop({"@type": "Time", "@value": "08:00:00"})],
        DC + "dateText": [prop("2025-06-01")],
        DC + "isParked": [
            {
                "type": "Relationship",
                "object": "urn:ngsi-ld:OffStreetParking:Downtown1",
                DC + "providedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Person:Bob"},
            }
        ],
        DC + "owners": [
            {"type": "ListRelationship", "objectList": ["urn:ngsi-ld:Person:A", "urn:ngsi-ld:Person:B"]}
        ],
        DC + "gender": [{"type": "VocabProperty", "vocab": DC + "Male"}],
        DC + "name": [
            {"type": "LanguageProperty", "languageMap": {"en": "red car", "de": ["rotes", "Auto"]}}
        ],
        DC + "sensor": [prop(40, **{DC + "rawdata": prop({"airquality": {"particulate": 40, "PM20": 85}})})],
        DC + "tickets": [{"type": "JsonProperty", "json": {"id": "85a6", "value": "Overstay 60 minutes"}}],
        DC + "readings": [{"type": "ListProperty", "valueList": [1, 2, 3]}],
        LOCATION: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": [7.7689, 49.4447]}}],
    },
}

Q_CASES = [
    # existence
    ("speed", True),
    ("!speed", False),
    ("missing", False),
    ("!missing", True),
    # numbers, strings, booleans
    ("speed==80", True),
    ("speed==80.0", True),
    ("speed>79;speed<81", True),
    ("speed>=80;speed<=80", True),
    ("speed>80", False),
    ('speed=="80"', False),  # a String never equals a Number
    ('speed!="80"', True),  # ... so it is unequal
    ("speed!=80", False),
    ('brandName=="Mercedes"', True),
    ('brandName!="Mercedes"', False),
    ('brandName>"Audi"', True),
    ("brandName>1", False),
    ("active==true", True),
    ("active!=false", True),
    ("active==1", False),
    # comparisons on a missing attribute need the attribute, except !attr
    ("missing==1", False),
    ("missing!=1", False),
    ("missing<1", False),
    ("missing!~=x", False),
    # multiple instances (datasetId): any instance
    ("temperature>30", True),
    ("temperature<21", True),
    ("temperature>40", False),
    ("temperature!=20.5", True),  # the instance with 31
    ("temperature==20.5..21", True),
    ("temperature.datasetId==urn:ngsi-ld:Dataset:b", True),
    # arrays: inclusion
    ('colors=="red"', True),
    ('colors!="red"', False),
    ('colors!="black"', True),
    ('colors=="black","red"', True),
    ('colors!="black","red"', False),
    ('colors!="black","white"', True),
    ("colors~=^gr", True),
    ("colors!~=^gr", False),
    # ranges and lists
    ("speed==70..90", True),
    ("speed!=70..90", False),
    ("speed!=81..90", True),
    ("speed==1,2,80", True),
    ("speed!=1,2,80", False),
    ('brandName=="A".."N"', True),
    # compound values
    ('address[city]=="Berlin"', True),
    ('address[geo.zip]=="10115"', True),
    ("address[country]", False),
    ("address[city.x]", False),
    ('address[country]!="X"', False),  # a missing member is a missing target element
    ("address[city]", True),
    ('address=="Berlin"', False),
    ('address!="Berlin"', True),  # the whole object is not a String, so it is unequal
    ("sensor.rawdata[airquality.particulate]==40", True),
    ("sensor.rawdata[airquality.PM20]>90", False),
    ('tickets[value]=="Overstay 60 minutes"', True),
    ("readings==2", True),
    ("readings>2", True),
    ("readings>3", False),
    # temporal members and typed values
    ("speed.observedAt>=2026-01-01T12:00:00Z", True),
    ("speed.observedAt>2026-01-01T13:00:00+01:00", False),  # equal instant
    ("speed.observedAt==2026-01-01T12:00:00.000Z", True),
    ("speed.createdAt", False),
    ('speed.unitCode=="KMH"', True),
    ("brandName.observedAt", False),
    ("since>2025-01-01T00:00:00Z", True),
    ("since==2025-06-01T10:00:00+02:00", True),
    ("day==2025-06-01", True),
    ("day<2025-06-02", True),
    ("day==2025-06-01T00:00:00Z", False),  # a Date is not a DateTime
    ("dateText==2025-06-01", False),  # a plain string is a String
    ('dateText=="2025-06-01"', True),
    ("opens<09:00:00", True),
    ("opens<09:00:00Z", False),  # a local time and a UTC time are not comparable
    # Relationships: == and != only
    ("isParked==urn:ngsi-ld:OffStreetParking:Downtown1", True),
    ('isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"', True),
    ("isParked!=urn:ngsi-ld:OffStreetParking:Downtown1", False),
    ("isParked==urn:x:1,urn:ngsi-ld:OffStreetParking:Downtown1", True),
    ('isParked>"a"', False),
    ("isParked~=Downtown", False),
    ("isParked.providedBy==urn:ngsi-ld:Person:Bob", True),
    ("isParked.providedBy", True),
    ("isParked.missing", False),
    ("owners==urn:ngsi-ld:Person:B", True),
    ("owners!=urn:ngsi-ld:Person:B", False),
    ("owners!=urn:ngsi-ld:Person:C", True),
    # VocabProperty: compared in expanded form
    ("gender==Male", True),
    ('gender=="Male"', True),
    ("gender==Female", False),
    # LanguageProperty: any language, or the one in [..]
    ('name=="red car"', True),
    ('name[*]=="Auto"', True),
    ('name[en]=="red car"', True),
    ('name[de]=="red car"', False),
    ('name[de]=="Auto"', True),
    ('name[de]!="Auto"', False),
    ('name!="blue"', True),
    ('name[fr]=="rouge"', False),
    ("name[fr]", False),
    ("name~=^rot", True),
    ("name[en]!~=^rot", True),
    # patterns need strings
    ("brandName~=^Merc", True),
    ("brandName~=(?i)^merc", True),
    ("brandName!~=^Merc", False),
    ("speed~=8", False),
    ("speed!~=8", False),
    # logic
    ('speed>100|brandName=="Mercedes"', True),
    ('speed>100;brandName=="Mercedes"', False),
    ("(speed>100|active==true);!missing", True),
]


@pytest.mark.parametrize(("q", "expected"), Q_CASES, ids=[c[0] for c in Q_CASES])
def test_q_semantics(q: str, expected: bool) -> None:
    assert matches(ENTITY, parse_q(q, TM)) is expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("Vehicle", True),
        ("Building", False),
        ("Building,Vehicle", True),
        ("Vehicle;Asset", True),
        ("Vehicle;Building", False),
        ("(Vehicle;Building)|Asset", True),
    ],
)
def test_type_semantics(expr: str, expected: bool) -> None:
    assert matches(ENTITY, parse_type_expression(expr, TM)) is expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("/Kaiserslautern/Lauter", True),
        ("/Kaiserslautern", False),
        ("/Kaiserslautern/#", True),
        ("/Kaiserslautern/Lauter/#", True),
        ("/Kaiserslautern/Lauter/Pegel/#", False),
        ("/+/Lauter", True),
        ("/+", True),  # /CompanyA
        ("/+/+/+", False),
        ("/#", True),
        ("(/Kaiserslautern/#;/CompanyA)", True),
        ("(/Kaiserslautern/#;/CompanyB)", False),
        ("/CompanyB,/CompanyA", True),
    ],
)
def test_scope_semantics(expr: str, expected: bool) -> None:
    assert matches(ENTITY, parse_scope_query(expr)) is expected


def test_entities_without_scope_match_no_scope_query() -> None:
    assert not matches({"id": "urn:x:1", "type": [], "attrs": {}}, parse_scope_query("/#"))


# The entity is at 7.7689 E, 49.4447 N (Kaiserslautern). Reference 7.7689 E, 49.4537 N is 0.009 degrees
# north: 0.009 * 111 195.08 m = 1000.76 m.
NORTH = "[7.7689,49.4537]"
SQUARE = "[[[7.7,49.4],[7.8,49.4],[7.8,49.5],[7.7,49.5],[7.7,49.4]]]"


@pytest.mark.parametrize(
    ("georel", "geometry", "coordinates", "expected"),
    [
        ("near;maxDistance==1001", "Point", NORTH, True),
        ("near;maxDistance==1000", "Point", NORTH, False),
        ("near;minDistance==1000", "Point", NORTH, True),
        ("near;minDistance==1001", "Point", NORTH, False),
        ("within", "Polygon", SQUARE, True),
        ("intersects", "Polygon", SQUARE, True),
        ("disjoint", "Polygon", SQUARE, False),
        ("contains", "Polygon", SQUARE, False),
        ("equals", "Point", "[7.7689,49.4447]", True),
        ("overlaps", "Polygon", SQUARE, False),
        ("within", "Polygon", "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]", False),
        ("disjoint", "Polygon", "[[[0,0],[1,0],[1,1],[0,1],[0,0]]]", True),
    ],
)
def test_geo_semantics_on_a_point(georel: str, geometry: str, coordinates: str, expected: bool) -> None:
    geo = parse_geo_query(georel, geometry, coordinates, None, TM)
    assert geo is not None
    assert matches(ENTITY, geo) is expected


def test_near_on_a_polygon_uses_its_whole_extent() -> None:
    # A 0.02 x 0.02 degree square east of the reference point: nearest edge 0.01 deg of longitude away
    # (0.01 * 111 195.08 * cos(49.45 deg) = 722.9 m); the farthest corner (7.80, 49.44) is
    # 0.03 deg east and 0.01 deg south: sqrt(2 168.7^2 + 1 112.0^2) = 2 437 m.
    entity = {
        "attrs": {
            LOCATION: [
                {
                    "type": "GeoProperty",
                    "value": {
                        "type": "Polygon",
                        "coordinates": [
                            [[7.78, 49.44], [7.80, 49.44], [7.80, 49.46], [7.78, 49.46], [7.78, 49.44]]
                        ],
                    },
                }
            ]
        }
    }

    def near(modifier: str) -> bool:
        geo = parse_geo_query(f"near;{modifier}", "Point", "[7.77,49.45]", None, TM)
        assert geo is not None
        return matches(entity, geo)

    assert near("minDistance==700") and not near("minDistance==750")
    assert near("maxDistance==2450") and not near("maxDistance==2420")


def test_geo_needs_the_geoproperty() -> None:
    geo = parse_geo_query("within", "Polygon", SQUARE, "observationSpace", TM)
    assert geo is not None and not matches(ENTITY, geo)


def test_a_broken_stored_geometry_does_not_match() -> None:
    entity = {"attrs": {LOCATION: [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": "x"}}]}}
    geo = parse_geo_query("intersects", "Polygon", SQUARE, None, TM)
    assert geo is not None and not matches(entity, geo)


def test_combined_request_parts_are_anded() -> None:
    node = combine(
        parse_type_expression("Vehicle", TM),
        None,
        parse_q("speed>50", TM),
        parse_scope_query("/CompanyA"),
        parse_geo_query("within", "Polygon", SQUARE, None, TM),
    )
    assert node is not None and matches(ENTITY, node)
    assert combine(None, None) is None


def test_vocab_values_compare_in_the_callers_context() -> None:
    tm = build_term_map([{"Male": "http://example.org/Male", "gender": DC + "gender"}])
    entity = {"attrs": {DC + "gender": [{"type": "VocabProperty", "vocab": "http://example.org/Male"}]}}
    assert matches(entity, parse_q("gender==Male", tm))
    assert not matches(entity, parse_q("gender==Male", TM))
