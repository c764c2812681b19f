"""Names for the NGSI-LD domain types used across the broker.

The stored ("expanded") entity keeps NGSI-LD core members under their short names and every user
term (entity types, attribute names, sub-attribute names, vocab values) as a full IRI:

    {
      "id": "urn:ngsi-ld:WaterObserved:lauter-1",
      "type": ["https://smartdatamodels.org/dataModel.Environment/WaterObserved"],
      "scope": ["/Kaiserslautern/Lauter"],            # optional
      "createdAt": "2026-11-25T19:00:00.000Z",
      "modifiedAt": "2026-11-25T19:00:00.000Z",
      "attrs": {
        "https://smartdatamodels.org/dataModel.Environment/height": [   # one instance per datasetId
          {"type": "Property", "value": 1.42, "unitCode": "MTR",
           "observedAt": "2026-11-25T18:45:00.000Z",
           "createdAt": "...", "modifiedAt": "...",
           "https://uri.etsi.org/ngsi-ld/default-context/quality": {"type": "Property", "value": "ok"}}
        ]
      }
    }

Sub-attributes are keys of an instance that are not core members; each maps to one instance.
"""

from typing import Any, TypeAlias

EntityId: TypeAlias = str
Tenant: TypeAlias = str  # "" is the default tenant (no NGSILD-Tenant header)
Iri: TypeAlias = str
Term: TypeAlias = str
DateTimeStr: TypeAlias = str  # ISO 8601 UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ" for system attributes

Instance: TypeAlias = dict[str, Any]  # one attribute instance, normalized and expanded
ExpandedEntity: TypeAlias = dict[str, Any]  # the stored form above
CompactedEntity: TypeAlias = dict[str, Any]  # what the API returns, compacted with a caller's @context

DEFAULT_TENANT: Tenant = ""

# Attribute kinds (the value of an attribute's "type" member).
PROPERTY = "Property"
RELATIONSHIP = "Relationship"
GEO_PROPERTY = "GeoProperty"
LANGUAGE_PROPERTY = "LanguageProperty"
VOCAB_PROPERTY = "VocabProperty"
JSON_PROPERTY = "JsonProperty"
LIST_PROPERTY = "ListProperty"
LIST_RELATIONSHIP = "ListRelationship"
ATTRIBUTE_KINDS = frozenset(
    {
        PROPERTY,
        RELATIONSHIP,
        GEO_PROPERTY,
        LANGUAGE_PROPERTY,
        VOCAB_PROPERTY,
        JSON_PROPERTY,
        LIST_PROPERTY,
        LIST_RELATIONSHIP,
    }
)
# The member that carries the value of each kind.
VALUE_MEMBER = {
    PROPERTY: "value",
    GEO_PROPERTY: "value",
    RELATIONSHIP: "object",
    LANGUAGE_PROPERTY: "languageMap",
    VOCAB_PROPERTY: "vocab",
    JSON_PROPERTY: "json",
    LIST_PROPERTY: "valueList",
    LIST_RELATIONSHIP: "objectList",
}
