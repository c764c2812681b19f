"""Southbound transports: IoTA-JSON and UltraLight 2.0 over HTTP and MQTT, LoRaWAN uplinks."""
