"""Wrong values fail at install with a message naming them (values.schema.json and the templates' own checks),
and `helm lint` finds nothing to warn about."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python as helm
import pytest

from tests.helm.chart import CHART, NAMESPACE, RELEASE, SCENARIOS, load_chart


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with load_chart() as loaded:
        yield loaded


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("a misspelt key", {"broker": {"replica": 3}}, "replica"),
    ("an unknown top-level key", {"mongo": {"mode": "external"}}, "mongo"),
    ("no broker replica", {"broker": {"replicas": 0}}, "/broker/replicas"),
    ("replicas as text", {"broker": {"replicas": "three"}}, "/broker/replicas"),
    ("root user", {"podSecurity": {"runAsUser": 0}}, "/podSecurity/runAsUser"),
    ("unknown store mode", {"mongodb": {"mode": "sqlite"}}, "/mongodb/mode"),
    ("external without a URI", {"mongodb": {"mode": "external"}}, "/mongodb/external"),
    ("not a MongoDB URI", {"mongodb": {"mode": "external", "external": {"uri": "postgres://db"}}}, "/uri"),
    ("too many members", {"mongodb": {"bundled": {"replicas": 8}}}, "/mongodb/bundled/replicas"),
    ("a password unsafe in a URI", {"mongodb": {"bundled": {"auth": {"password": "a@b/c"}}}}, "/password"),
    (
        "a keyfile that is not base64",
        {"mongodb": {"bundled": {"auth": {"keyfile": "not a key!"}}}},
        "/keyfile",
    ),
    (
        "a storage size without unit syntax",
        {"mongodb": {"bundled": {"persistence": {"size": "lots"}}}},
        "/size",
    ),
    ("unknown log level", {"config": {"logLevel": "verbose"}}, "/config/logLevel"),
    ("unknown SDM policy", {"config": {"sdmPolicy": "strict"}}, "/config/sdmPolicy"),
    ("a retention that is no ISO duration", {"config": {"historyRetention": "5 years"}}, "/historyRetention"),
    ("a non-VERBUND setting", {"config": {"extraEnv": {"PATH": "/tmp"}}}, "PATH"),
    ("a short feed secret", {"feeds": {"secret": "short"}}, "/feeds/secret"),
    ("a port out of range", {"broker": {"port": 70000}}, "/broker/port"),
    ("unknown service type", {"broker": {"service": {"type": "External"}}}, "/broker/service/type"),
    (
        "CPU target over 100 %",
        {"broker": {"autoscaling": {"targetCPUUtilizationPercentage": 150}}},
        "/targetCPU",
    ),
    ("ingress without a broker host", {"ingress": {"enabled": True}}, "/ingress/broker/host"),
    (
        "a host with a scheme",
        {"ingress": {"broker": {"host": "https://daten.example"}}},
        "/ingress/broker/host",
    ),
    ("MQTT twice", {"mosquitto": {"enabled": True}, "agents": {"mqtt": {"url": "mqtt://x:1883"}}}, "/url"),
    ("a non-MQTT URL", {"agents": {"mqtt": {"url": "http://x"}}}, "/agents/mqtt/url"),
    (
        "TLS without a certificate",
        {"mosquitto": {"enabled": True, "tls": {"enabled": True}}},
        "/existingSecret",
    ),
    (
        "a device user with a colon",
        {"mosquitto": {"auth": {"users": [{"username": "a:b", "password": "x"}]}}},
        "/username",
    ),
    (
        "a device password with a colon",
        {"mosquitto": {"auth": {"users": [{"username": "a", "password": "x:y"}]}}},
        "/password",
    ),
    ("an image digest that is no digest", {"image": {"digest": "latest"}}, "/image/digest"),
    ("a public URL without scheme", {"publicUrl": "daten.example"}, "/publicUrl"),
    ("a peer with an unknown key", {"networkPolicy": {"brokerClients": [{"pods": {}}]}}, "pods"),
]


@pytest.mark.parametrize(("case", "values", "named"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_values_are_rejected_naming_the_value(
    chart: helm.Chart, case: str, values: dict, named: str
) -> None:
    with pytest.raises(helm.HelmValuesError) as raised:
        chart.validate_schema(values)
    assert named in str(raised.value)
    # an install renders with the same check, so nothing reaches the cluster
    with pytest.raises(helm.HelmValuesError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


TEMPLATE_FAILURES: list[tuple[str, dict[str, Any], str]] = [
    (
        "autoscaling maximum below its minimum",
        {"broker": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}},
        "maxReplicas (2) must not be below minReplicas (5)",
    ),
    (
        "the catalog and the broker on one host",
        {
            "ingress": {
                "enabled": True,
                "broker": {"host": "daten.example"},
                "catalog": {"host": "daten.example"},
            }
        },
        "broker and catalog cannot share the host daten.example",
    ),
]


@pytest.mark.parametrize(
    ("case", "values", "message"), TEMPLATE_FAILURES, ids=[c[0] for c in TEMPLATE_FAILURES]
)
def test_inconsistent_values_fail_with_a_message(
    chart: helm.Chart, case: str, values: dict, message: str
) -> None:
    with pytest.raises(helm.HelmRenderError) as raised:
        chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    assert message in str(raised.value)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_is_valid(chart: helm.Chart, name: str) -> None:
    chart.validate_schema(SCENARIOS[name])


@pytest.mark.parametrize("name", ["default", "ingress-tls", "mqtt", "bundled-mongodb"])
def test_helm_lint_finds_nothing_to_warn_about(name: str) -> None:
    report = helm.lint(CHART, SCENARIOS[name], strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
    assert report["errors"] == []
    findings = [m for m in report["messages"] if m["severity"] >= 2]  # 2 warning, 3 error
    assert findings == []


def test_helm_lint_reports_a_broken_template(tmp_path) -> None:
    """The lint check above can fail: a chart whose template does not parse is an error."""
    import shutil

    copy = tmp_path / "verbund"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "broken.yaml").write_text("{{ if }}\n")
    report = helm.lint(copy, strict=True)
    assert any(m["severity"] == 3 for m in report["messages"]) or report["errors"]
