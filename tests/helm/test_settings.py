"""Every VERBUND_* variable the chart sets is a setting the services read (a misspelt one would be ignored
silently), and every value it sets is one the settings accept."""

from __future__ import annotations

from dataclasses import fields

import pytest

from tests.helm.chart import SCENARIOS, scenario
from verbund.settings import Settings, env_name, load_settings

KNOWN = {env_name(f.name) for f in fields(Settings)}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_variable_the_chart_sets_is_a_setting(name: str) -> None:
    manifests = scenario(name)
    config = manifests.get("ConfigMap", "demo-verbund-config")["data"]
    names = set(config)
    for pod in manifests.pods():
        for container in pod.containers():
            names |= {e["name"] for e in container.get("env", [])}
    unknown = {n for n in names if n.startswith("VERBUND_")} - KNOWN
    assert not unknown, f"not settings of verbund/settings.py: {sorted(unknown)}"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_shared_configuration_is_valid(name: str) -> None:
    config = scenario(name).get("ConfigMap", "demo-verbund-config")["data"]
    load_settings(dict(config))  # raises ValueError naming a bad one
