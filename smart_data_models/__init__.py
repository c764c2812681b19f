"""Smart Data Models: offline schemas, validation on write, one platform @context (docs/data-models.md).

schemas/       our JSON Schema 2020-12 files (<Model>/schema.json, common/*-schema.json)
catalog.py     read, meta-validate and compile schema files; models by name and type IRI
compiler.py    a schema compiled once into closures (keywords.py: the single-keyword checks)
reduce.py      a stored NGSI-LD entity -> the keyValues view a schema describes
policy.py      per-tenant off/warn/enforce around Broker.apply; metrics; the 400 with violations
notes.py       warn findings -> NGSILD-Warning response headers
context.py     the platform @context rules (verbund.jsonld is their checked-in output)
importer.py    `verbund sdm import`; cli.py the other `verbund sdm` commands
api.py         the @context route and the policy admin endpoint; setup.py broker start-up
"""
