"""The open-data catalog: every open-data municipality's data as DCAT-AP.de, a portal and downloads.

app.py        `create_app(settings)`: alone (`verbund catalog`) or under /catalog (`verbund serve`)
config.py     settings -> CatalogConfig: public URL, broker URL, notify URL, feed secret
broker.py     the only way to the broker: registry, NGSI-LD, subscriptions, temporal API (bounded HTTP)
feed.py       POST /notify: token check, bounded body, notification -> entity summaries
sync.py       start-up and periodic reconcile, feed subscriptions, first observations, withdrawals
summary.py    one NGSI-LD entity -> place, observation times, attributes
store.py      the state in <data dir>/catalog.db
model.py      what is published: DatasetView per municipality x entity type, and every URL
vocab.py      namespaces, type titles and themes, political geocoding, licences
dcat.py       DatasetViews -> rdflib graphs (DCAT-AP.de, Hydra paging)
metadata.py   /catalog.{ttl,rdf,jsonld}, /dataset/{id}.{ttl,rdf,jsonld}, content negotiation
downloads.py  CSV and GeoJSON of the current state, CSV of the history, streamed from the broker
portal.py     the HTML portal (templates/, static/), mapsvg.py draws the extent
ckan.py       the optional push to an existing CKAN
"""
