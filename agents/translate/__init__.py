"""Measures and provisioning turned into NGSI-LD entity fragments."""
