import pytest

from broker_adapter.ngsild.core_context import DEFAULT_VOCAB, NGSI_LD_PREFIX
from broker_adapter.ngsild.render import Renderer, RenderOptions
from broker_adapter.ngsild.termmap import core_term_map

V = DEFAULT_VOCAB
STAMPS = {"createdAt": "2024-01-01T00:00:00.000Z", "modifiedAt": "2024-01-02T00:00:00.000Z"}


def _general(options: RenderOptions) -> Renderer:
    renderer = Renderer(core_term_map(), options)
    renderer._plain = False  # force the general per-attribute path
    return renderer


@pytest.mark.parametrize(
    "entity",
    [
        {"id": "urn:x:1", "type": [V + "Vehicle"], "attrs": {}},
        {"id": "urn:x:2", "type": [V + "A", V + "B"], "scope": ["/a"], "attrs": {}, **STAMPS},
        {"id": "urn:x:3", "type": [], "scope": ["/a", "/b"], "attrs": {V + "p": []}},
        {
            "id": "urn:x:4",
            "type": [V + "Vehicle"],
            **STAMPS,
            "attrs": {
                V + "speed": [{"type": NGSI_LD_PREFIX + "x", "value": 1} | STAMPS],  # unknown kind
                V + "plain": [{"value": 80, "unitCode": "KMH", "observedAt": "2024-01-01T00:00:00Z"}],
                V + "rel": [{"type": "Relationship", "object": "urn:x:9", "deletedAt": "x"}],
                NGSI_LD_PREFIX + "location": [{"type": "GeoProperty", "value": {"type": "Point"}} | STAMPS],
                V + "many": [
                    {"type": "Property", "value": 1} | STAMPS,
                    {"type": "Property", "value": 2, "datasetId": "urn:d:1"} | STAMPS,
                ],
                V + "sub": [{"type": "Property", "value": 1, V + "acc": {"type": "Property", "value": 2}}],
                V + "lang": [{"type": "LanguageProperty", "languageMap": {"en": "car"}} | STAMPS],
                V + "vocab": [{"type": "VocabProperty", "vocab": V + "Thing"}],
                V + "list": [{"type": "ListRelationship", "objectList": ["urn:x:1"]}],
                V + "typed": [{"type": "Relationship", "object": "urn:x:2", "objectType": V + "Vehicle"}],
                V + "json": [{"type": "JsonProperty", "json": {"a": [1]}} | STAMPS],
            },
        },
    ],
)
def test_default_options_render_the_same_as_the_general_path(entity: dict) -> None:
    options = RenderOptions()
    fast = Renderer(core_term_map(), options).entity(entity)
    general = _general(options).entity(entity)
    assert fast == general
    assert list(fast) == list(general)
    for name, value in fast.items():  # member order too: clients see the JSON text
        if isinstance(value, dict):
            assert list(value) == list(general[name])
