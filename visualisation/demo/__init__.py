"""``verbund serve --demo``: the cluster (places.py), what its sensors measure (signals.py), how the
agents know them (devices.py) and the run that feeds them through the agents (runner.py)."""
