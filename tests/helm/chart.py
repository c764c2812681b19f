"""The chart rendered by the real Helm engine (helm-python-sdk embeds Helm's Go SDK), and the questions the
tests ask of the manifests: workloads, their pod specs and containers, and who a NetworkPolicy lets in."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "verbund"
RELEASE = "demo"
NAMESPACE = "verbund"
PREFIX = f"{RELEASE}-verbund"

# The values sets the issue names, each rendered once per session.
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "external-mongodb": {
        "mongodb": {
            "mode": "external",
            "external": {"uri": "mongodb://verbund:s3cret@db1,db2,db3/?replicaSet=rs"},
        }
    },
    "external-mongodb-secret": {
        "mongodb": {
            "mode": "external",
            "external": {"existingSecret": "atlas", "existingSecretKey": "connection"},
        }
    },
    "bundled-mongodb": {
        "mongodb": {
            "mode": "bundled",
            "bundled": {
                "replicas": 5,
                "replicaSetName": "verbund",
                "auth": {"existingSecret": "mongo-credentials"},
                "persistence": {"size": "50Gi", "storageClass": "fast-ssd"},
                "wiredTigerCacheSizeGB": 1.5,
            },
        }
    },
    "autoscaling": {
        "broker": {
            "autoscaling": {
                "enabled": True,
                "minReplicas": 3,
                "maxReplicas": 12,
                "targetCPUUtilizationPercentage": 60,
                "targetMemoryUtilizationPercentage": 80,
            }
        }
    },
    "ingress-tls": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            "tls": {"enabled": True},
            "broker": {"host": "daten.verbund.example"},
            "dashboard": {"host": "daten.verbund.example"},
            "agents": {"host": "iot.verbund.example"},
            "catalog": {"host": "opendata.verbund.example"},
        },
        "catalog": {"brokerToken": {"value": "catalog-reader-key"}, "ckan": {"existingSecret": "ckan-keys"}},
        "dashboard": {"brokerToken": {"existingSecret": "dashboard-token"}},
        "agents": {"brokerToken": {"existingSecret": "verbund-service-keys", "existingSecretKey": "agents"}},
    },
    "mqtt": {
        "mosquitto": {
            "enabled": True,
            "service": {"type": "LoadBalancer"},
            "auth": {"users": [{"username": "pegel-lauter", "password": "geheim-1"}]},
            "tls": {"enabled": True, "existingSecret": "mqtt-tls"},
        }
    },
    "mqtt-external": {"agents": {"mqtt": {"url": "mqtt://agents:pw@mqtt.stadtwerke.example:1883"}}},
}


def load_chart() -> helm.Chart:
    return helm.Chart.load(CHART)


def render(values: dict[str, Any]) -> Manifests:
    with load_chart() as chart:
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    documents: list[dict[str, Any]] = []
    notes = ""
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt"):
            notes = text
            continue
        for document in yaml.safe_load_all(text):
            if document:
                documents.append(document)
    return Manifests(documents, notes)


@cache
def scenario(name: str) -> Manifests:
    return render(SCENARIOS[name])


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob")


@dataclass
class Manifests:
    documents: list[dict[str, Any]]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        for document in self.of_kind(kind):
            if document["metadata"]["name"] == name:
                return document
        raise KeyError(f"no {kind} {name}; there are {[d['metadata']['name'] for d in self.of_kind(kind)]}")

    def names(self, kind: str) -> set[str]:
        return {d["metadata"]["name"] for d in self.of_kind(kind)}

    def workloads(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] in WORKLOAD_KINDS]

    def pods(self) -> list[Pod]:
        return [Pod.of(w) for w in self.workloads()]

    def pod(self, component: str) -> Pod:
        for pod in self.pods():
            if pod.labels.get("app.kubernetes.io/component") == component:
                return pod
        raise KeyError(f"no workload of component {component}")


@dataclass
class Pod:
    """A workload's pod template, and the namespace it runs in."""

    workload: dict[str, Any]
    spec: dict[str, Any]
    labels: dict[str, str]
    namespace_labels: dict[str, str] = field(
        default_factory=lambda: {"kubernetes.io/metadata.name": NAMESPACE}
    )
    ip: str = "10.42.0.10"

    @classmethod
    def of(cls, workload: dict[str, Any]) -> Pod:
        spec = workload["spec"]
        if workload["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        template = spec["template"]
        return cls(workload, template["spec"], template["metadata"].get("labels", {}))

    @property
    def name(self) -> str:
        return self.workload["metadata"]["name"]

    def containers(self, *, init: bool = True) -> Iterator[dict[str, Any]]:
        yield from self.spec["containers"]
        if init:
            yield from self.spec.get("initContainers", [])

    def container(self, name: str) -> dict[str, Any]:
        for container in self.containers():
            if container["name"] == name:
                return container
        raise KeyError(name)

    def port(self, name_or_number: str | int) -> int:
        if isinstance(name_or_number, int):
            return name_or_number
        for container in self.containers(init=False):
            for port in container.get("ports", []):
                if port.get("name") == name_or_number:
                    return port["containerPort"]
        raise KeyError(f"{self.name} has no port named {name_or_number}")

    def env(self, container: str) -> dict[str, dict[str, Any]]:
        return {e["name"]: e for e in self.container(container).get("env", [])}

    def volume(self, name: str) -> dict[str, Any]:
        return next(v for v in self.spec.get("volumes", []) if v["name"] == name)


def external_pod(namespace: str, labels: dict[str, str] | None = None, ip: str = "10.42.7.7") -> Pod:
    """A pod that is not part of the release (ingress controller, Prometheus, another application)."""
    return Pod({"metadata": {"name": f"{namespace}-pod"}}, {"containers": []}, labels or {"app": "other"},
               {"kubernetes.io/metadata.name": namespace}, ip)  # fmt: skip


def internet_client(ip: str = "203.0.113.9") -> Pod:
    """A device or server outside the cluster (matched by no pod or namespace selector)."""
    return Pod({"metadata": {"name": "internet"}}, {"containers": []}, {}, {}, ip)


# --- label selectors and NetworkPolicies, as the Kubernetes API defines them ---------------------------


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def _peer_admits(peer: dict[str, Any], source: Pod) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(source.ip)
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    pods_ok = "podSelector" not in peer or selects(peer["podSelector"], source.labels)
    if "namespaceSelector" in peer:
        return pods_ok and selects(peer["namespaceSelector"], source.namespace_labels)
    # a podSelector alone means pods of the policy's own namespace
    return pods_ok and source.namespace_labels.get("kubernetes.io/metadata.name") == NAMESPACE


def admits(manifests: Manifests, source: Pod, target: Pod, port: str | int) -> bool:
    """Whether the release's NetworkPolicies let `source` open a TCP connection to `target` on `port`."""
    number = target.port(port)
    policies = [
        p
        for p in manifests.of_kind("NetworkPolicy")
        if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], target.labels)
    ]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(target.port(p["port"]) == number for p in ports if "port" in p):
                continue
            peers = rule.get("from")
            if not peers or any(_peer_admits(peer, source) for peer in peers):
                return True
    return False


# --- Kubernetes' own JSON schemas (shipped by kubernetes-validate), one validator per kind and version


class InvalidManifest(AssertionError):
    pass


@cache
def _definitions(version: str) -> Any:
    from kubernetes_validate.utils import schema_contents

    return schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)


@cache
def _validator(version: str, kind: str, api_version: str) -> Any:
    """kubernetes_validate.validate(strict=True) builds this for every call; building it once per kind makes
    checking a few hundred manifests take a second instead of fifteen."""
    import re

    import jsonschema
    from kubernetes_validate.utils import schema_contents
    from referencing import Registry, Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group_version}.json", version
    )
    registry = Resource.from_contents(_definitions(version)) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_manifest(document: dict[str, Any], version: str) -> None:
    """Strict: an unknown field (a misspelt readOnlyRootFilesystem) is an error, as the API server's
    strict field validation makes it."""
    validator = _validator(version, document["kind"], document["apiVersion"])
    error = next(iter(sorted(validator.iter_errors(document), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        name = f"{document['kind']} {document['metadata']['name']}"
        raise InvalidManifest(f"{name} (Kubernetes {version}): {error.message} at {where}")
