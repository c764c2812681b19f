"""The platform @context: one mapping of the built-in models' terms to Smart Data Models IRIs.

Served by the broker at /ngsi-ld/contexts/verbund.jsonld; agents, catalog and dashboard use it by default.
The mapping is derived from the built-in schemas only (imports never change it: a term's IRI must not move
under data already stored), by these rules:

    entity type T of domain D          https://smartdatamodels.org/D/T
    attribute in the shared commons    https://smartdatamodels.org/<term>
    (GSMA, Location, PhysicalObject)
    attribute of models of 2+ domains  https://smartdatamodels.org/<term>
    attribute of one domain D          https://smartdatamodels.org/D/<term>
    term of the NGSI-LD core context   left out: the core context wins anyway (clause 4.4), e.g.
                                       location, description, status, data

The document's @context array ends with the core context URL, so plain JSON-LD processors expand the
same way the broker does.
"""

from __future__ import annotations

from typing import Any

from broker_adapter.ngsild.core_context import CORE_CONTEXT, CORE_CONTEXT_URL
from smart_data_models.catalog import SDM_IRI, Catalog

CONTEXT_PATH = "/ngsi-ld/contexts/verbund.jsonld"
SHARED_COMMONS = ("GSMA-Commons", "Location-Commons", "PhysicalObject-Commons")


def _core_terms() -> frozenset[str]:
    ctx = CORE_CONTEXT.get("@context", CORE_CONTEXT) if isinstance(CORE_CONTEXT, dict) else {}
    return frozenset(k for k in ctx if not k.startswith("@"))


def _commons_terms(catalog: Catalog) -> set[str]:
    terms: set[str] = set()
    for f in catalog.files.values():
        defs = {**f.document.get("$defs", {}), **f.document.get("definitions", {})}
        for name in SHARED_COMMONS:
            if isinstance(defs.get(name), dict):
                terms |= set(defs[name].get("properties", {}))
    return terms


def platform_terms(catalog: Catalog) -> dict[str, str]:
    """term -> IRI for every built-in model and attribute, by the rules above."""
    core = _core_terms()
    commons = _commons_terms(catalog)
    domains_of: dict[str, set[str]] = {}
    terms: dict[str, str] = {}
    for model in catalog:
        if model.domain is None:
            continue
        terms[model.name] = model.type_iri
        for attribute in model.attributes:
            domains_of.setdefault(attribute, set()).add(model.domain)
    for attribute, domains in sorted(domains_of.items()):
        if attribute in core or attribute in terms:
            continue
        if attribute in commons or len(domains) > 1:
            terms[attribute] = f"{SDM_IRI}{attribute}"
        else:
            terms[attribute] = f"{SDM_IRI}{next(iter(domains))}/{attribute}"
    return dict(sorted(terms.items()))


def platform_context_document(terms: dict[str, str]) -> dict[str, Any]:
    return {"@context": [terms, CORE_CONTEXT_URL]}


def platform_context_url(broker_url: str) -> str:
    return broker_url.rstrip("/") + CONTEXT_PATH
