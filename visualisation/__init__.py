"""The dashboard: maps, water levels, traffic and alerts per municipality and for the region, updated live.

It is a consumer of the platform like any other: it reads the broker only over HTTP (NGSI-LD API, temporal
API, municipality registry) and is fed by one subscription per tenant (verbund/feeds.py), whose
notifications it pushes to open browsers as Server-Sent Events.

    app.py        the ASGI app (alone: ``verbund dashboard``; mounted under /dashboard by ``verbund serve``)
    config.py     the dashboard's view of the settings (broker, notify URL, feed secret, tiles)
    broker.py     the HTTP client of the broker: entities, history, subscriptions, registry
    sensors.py    NGSI-LD entities -> what a map marker or a gauge shows (value, state, thresholds)
    history.py    the series a chart draws (24 h / 7 d / 30 d) and their CSV
    live.py       the Server-Sent Events hub: bounded per-browser queues, replay by Last-Event-ID
    feed.py       the feed subscriptions (reconciled on start) and the /notify receiver
    pages.py      the HTML pages; api.py the JSON and CSV they load; i18n.py German and English labels
    security.py   response headers (CSP without third parties, no framing, no sniffing)
    demo/         ``verbund serve --demo``: the cluster's municipalities and simulated devices
"""
