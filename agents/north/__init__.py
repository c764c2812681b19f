"""The northbound half: a durable outbox and the NGSI-LD client that drains it."""
