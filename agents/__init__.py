"""Verbund IoT agents: FIWARE-compatible provisioning, southbound protocols, and a durable NGSI-LD feed.

They reach the broker only through the public NGSI-LD API, so they feed Orion-LD as well as our broker.
"""
