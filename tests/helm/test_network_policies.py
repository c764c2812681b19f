"""Who may open a connection to whom, as the release's NetworkPolicies decide it (evaluated the way the
Kubernetes API defines policies: a selected pod accepts only what some policy's rule admits)."""

from __future__ import annotations

import pytest

from tests.helm.chart import admits, external_pod, internet_client, render, scenario

INGRESS_CONTROLLER = external_pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
PROMETHEUS = external_pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
NEIGHBOUR = external_pod("verbund", {"app": "some-other-app"})  # another application in the same namespace
INTERNET = internet_client()


def _source(manifests, who: str):
    return {
        "ingress-controller": INGRESS_CONTROLLER,
        "prometheus": PROMETHEUS,
        "neighbour": NEIGHBOUR,
        "internet": INTERNET,
    }.get(who) or manifests.pod(who)


# (source, target component, target port, allowed) in the default installation (no ingress)
DEFAULT = [
    ("agents", "broker", "http", True),
    ("catalog", "broker", "http", True),
    ("dashboard", "broker", "http", True),
    ("prometheus", "broker", "http", True),
    ("neighbour", "broker", "http", False),
    ("ingress-controller", "broker", "http", False),
    ("mongodb", "broker", "http", False),
    ("broker", "broker", "http", True),  # the broker fetches its platform @context through its Service
    ("broker", "mongodb", "mongodb", True),
    ("mongodb", "mongodb", "mongodb", True),  # replication between members
    ("mongodb-init", "mongodb", "mongodb", True),
    ("agents", "mongodb", "mongodb", False),
    ("catalog", "mongodb", "mongodb", False),
    ("dashboard", "mongodb", "mongodb", False),
    ("neighbour", "mongodb", "mongodb", False),
    ("prometheus", "mongodb", "mongodb", False),
    ("broker", "catalog", "http", True),  # feed notifications
    ("broker", "dashboard", "http", True),
    ("agents", "catalog", "http", False),
    ("neighbour", "dashboard", "http", False),
    ("prometheus", "agents", "north", True),
    ("broker", "agents", "north", False),
    ("neighbour", "agents", "north", False),
    ("neighbour", "agents", "south", False),
    ("internet", "agents", "south", False),
]

WITH_INGRESS = [
    ("ingress-controller", "broker", "http", True),
    ("ingress-controller", "catalog", "http", True),
    ("ingress-controller", "dashboard", "http", True),
    ("ingress-controller", "agents", "south", True),
    ("ingress-controller", "agents", "north", False),  # provisioning is never exposed
    ("ingress-controller", "mongodb", "mongodb", False),
    ("neighbour", "catalog", "http", False),
]

WITH_MQTT = [
    ("agents", "mosquitto", "mqtt", True),
    ("internet", "mosquitto", "mqtt", True),  # a LoadBalancer service: devices connect from anywhere
    ("internet", "mosquitto", "mqtts", True),
    ("broker", "agents", "north", False),
]


@pytest.mark.parametrize(
    ("name", "source", "target", "port", "allowed"),
    [("default", *case) for case in DEFAULT]
    + [("ingress-tls", *case) for case in WITH_INGRESS]
    + [("mqtt", *case) for case in WITH_MQTT],
    ids=lambda v: v if isinstance(v, str) else str(v),
)
def test_traffic(name: str, source: str, target: str, port: str, allowed: bool) -> None:
    manifests = scenario(name)
    assert admits(manifests, _source(manifests, source), manifests.pod(target), port) is allowed


def test_every_pod_of_the_release_is_covered_by_a_policy() -> None:
    manifests = scenario("mqtt")
    for pod in manifests.pods():
        # a pod no policy selects would accept anything from anywhere
        assert not admits(manifests, NEIGHBOUR, pod, 65000), pod.name


def test_mosquitto_inside_the_cluster_admits_only_the_agents() -> None:
    manifests = render({"mosquitto": {"enabled": True}})
    mosquitto = manifests.pod("mosquitto")
    assert admits(manifests, manifests.pod("agents"), mosquitto, "mqtt")
    assert not admits(manifests, INTERNET, mosquitto, "mqtt")
    assert not admits(manifests, manifests.pod("broker"), mosquitto, "mqtt")


def test_disabled_network_policies_render_none() -> None:
    assert not render({"networkPolicy": {"enabled": False}}).of_kind("NetworkPolicy")


def test_own_clients_can_be_admitted_to_the_broker() -> None:
    manifests = render(
        {"networkPolicy": {"brokerClients": [{"podSelector": {"matchLabels": {"app": "some-other-app"}}}]}}
    )
    assert admits(manifests, NEIGHBOUR, manifests.pod("broker"), "http")
    assert not admits(manifests, NEIGHBOUR, manifests.pod("mongodb"), "mongodb")
