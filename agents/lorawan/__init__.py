"""LoRaWAN network-server uplinks (The Things Stack v3, ChirpStack v4) turned into measures."""
