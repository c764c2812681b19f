"""The provisioning API (port 4041) and its durable store of config groups and devices."""
