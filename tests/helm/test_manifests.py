"""Every values set renders to manifests the Kubernetes API server would accept, with hardened pods that
probe their health and find every Secret, ConfigMap, Service port and volume they refer to."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests.helm.chart import SCENARIOS, InvalidManifest, Pod, scenario, validate_manifest

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest the schemas know.
KUBERNETES_VERSIONS = ("1.27.0", kubernetes_validate.latest_version())

each_scenario = pytest.mark.parametrize("name", sorted(SCENARIOS))


@each_scenario
def test_every_manifest_is_valid_for_kubernetes(name: str) -> None:
    manifests = scenario(name)
    assert manifests.documents
    for document in manifests.documents:
        for version in KUBERNETES_VERSIONS:
            validate_manifest(document, version)


@each_scenario
def test_object_names_are_unique_and_fit_dns_labels(name: str) -> None:
    seen = set()
    for document in scenario(name).documents:
        key = (document["kind"], document["metadata"]["name"])
        assert key not in seen, f"{key} is rendered twice"
        seen.add(key)
        assert len(document["metadata"]["name"]) <= 63


@each_scenario
def test_every_container_is_hardened(name: str) -> None:
    for pod in scenario(name).pods():
        spec = pod.spec
        assert spec.get("automountServiceAccountToken") is False, pod.name
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True, pod.name
        pod_security = spec.get("securityContext", {})
        for container in pod.containers():
            where = f"{pod.name}/{container['name']}"
            security = container.get("securityContext", {})
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("readOnlyRootFilesystem") is True, where
            assert security.get("privileged") is not True, where
            assert "ALL" in security.get("capabilities", {}).get("drop", []), where
            assert not security.get("capabilities", {}).get("add"), where
            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
            assert security.get("runAsUser", pod_security.get("runAsUser")) != 0, where
            seccomp = security.get("seccompProfile") or pod_security.get("seccompProfile") or {}
            assert seccomp.get("type") == "RuntimeDefault", where
            # a read-only root still needs a writable /tmp
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            if container in spec["containers"]:
                assert "emptyDir" in pod.volume(mounts["/tmp"]), where
            resources = container.get("resources", {})
            assert resources.get("requests", {}).get("memory") and resources.get("limits", {}).get(
                "memory"
            ), where
            assert resources.get("requests", {}).get("cpu"), where


@each_scenario
def test_every_long_running_container_is_probed(name: str) -> None:
    for pod in scenario(name).pods():
        if pod.workload["kind"] in ("Job", "CronJob"):
            continue
        for container in pod.containers(init=False):
            where = f"{pod.name}/{container['name']}"
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in container, f"{where} has no {probe}"
                handler = container[probe]
                target = handler.get("httpGet", handler.get("tcpSocket", {}))
                pod.port(target["port"])  # the probe's port exists on the container
            if "httpGet" in container["livenessProbe"]:
                assert container["livenessProbe"]["httpGet"]["path"].endswith("/health"), where
                # /ready where the service has one (the catalog and the dashboard answer /health only)
                assert container["readinessProbe"]["httpGet"]["path"].endswith(("/ready", "/health")), where


@each_scenario
def test_images_are_pinned(name: str) -> None:
    for pod in scenario(name).pods():
        for container in pod.containers():
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] or "@sha256:" in image, image
            assert not image.endswith(":latest"), image


@each_scenario
def test_every_reference_resolves(name: str) -> None:
    """A pod that names a missing Secret, ConfigMap or claim never starts; a Service without pods or with a
    wrong target port answers nothing."""
    manifests = scenario(name)
    values = SCENARIOS[name]
    existing = _existing_secrets(values)
    secrets = manifests.names("Secret") | existing
    config_maps = manifests.names("ConfigMap")
    claims = manifests.names("PersistentVolumeClaim")
    for pod in manifests.pods():
        for container in pod.containers():
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets, (pod.name, source)
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in config_maps, (pod.name, source)
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in secrets, (pod.name, variable["name"], ref)
                    _assert_key(manifests, ref["name"], ref["key"], existing)
            mounted = {m["name"] for m in container.get("volumeMounts", [])}
            declared = {v["name"] for v in pod.spec.get("volumes", [])}
            templates = {t["metadata"]["name"] for t in pod.workload["spec"].get("volumeClaimTemplates", [])}
            assert mounted <= declared | templates, (pod.name, mounted - declared - templates)
        for volume in pod.spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, (pod.name, volume)
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, (pod.name, volume)
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, (pod.name, volume)
        account = pod.spec.get("serviceAccountName")
        assert account in manifests.names("ServiceAccount"), account
    pods = manifests.pods()
    for service in manifests.of_kind("Service"):
        selected = [p for p in pods if _selects_all(service["spec"]["selector"], p)]
        assert selected, f"Service {service['metadata']['name']} selects no pod"
        for port in service["spec"]["ports"]:
            for pod in selected:
                pod.port(port["targetPort"])


def _selects_all(selector: dict[str, str], pod: Pod) -> bool:
    return all(pod.labels.get(k) == v for k, v in selector.items())


def _existing_secrets(values: dict) -> set[str]:
    """Secrets the operator created before installing (named in the values)."""
    found: set[str] = set()

    def walk(node: object, key: str = "") -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif key == "existingSecret" and isinstance(node, str) and node:
            found.add(node)

    walk(values)
    return found


def _assert_key(manifests, secret: str, key: str, existing: set[str]) -> None:
    if secret in existing:
        return
    document = manifests.get("Secret", secret)
    assert key in {**document.get("data", {}), **document.get("stringData", {})}, (secret, key)


def test_the_kubernetes_check_catches_a_misspelt_field() -> None:
    deployment = copy.deepcopy(scenario("default").get("Deployment", "demo-verbund-broker"))
    security = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    security["readOnlyRootFileSystem"] = security.pop("readOnlyRootFilesystem")
    with pytest.raises(InvalidManifest, match="readOnlyRootFileSystem"):
        validate_manifest(deployment, KUBERNETES_VERSIONS[0])
