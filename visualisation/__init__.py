"""The dashboard: maps, water levels, traffic and alerts per municipality and for the region, updated live.

It is a consumer of the platform like any other: it reads the broker only over HTTP (NGSI-LD API, temporal
API, municipality registry) and is fed by one subscription per tenant (verbund/feeds.py), whose
notifications it pushes to open browsers as Server-Sent Events.

    app.py             the ASGI app (alone: ``verbund dashboard``; mounted at /dashboard by ``verbund serve``)
    config.py          the dashboard's view of the settings (broker, notify URL, feed secret, tiles)
    service.py         the service object the handlers share: snapshots, feed reconcile, changes -> hub
    broker.py          the HTTP client of the broker: entities, history, subscriptions, registry
    municipalities.py  which municipalities are shown (registry records, open data, listed tenants)
    sensors.py         NGSI-LD entities -> what a map marker or a gauge shows (value, state, thresholds)
    history.py         the series a chart draws (24 h / 7 d / 30 d) and their CSV
    live.py            the Server-Sent Events hub: bounded per-browser queues, replay by Last-Event-ID
    feed.py            the feed subscription's shape and the /notify receiver's checks
    pages.py, api.py   the HTML pages; the JSON, CSV and event stream they load; /notify
    views.py, i18n.py  templates (templates/), formatting, German and English labels
    security.py        response headers (CSP without third parties, no framing, no sniffing)
    static/            our own CSS and scripts (map, SVG charts, live updates); Leaflet from XStatic-Leaflet
    demo/              ``verbund serve --demo``: the cluster's municipalities and simulated devices
"""
