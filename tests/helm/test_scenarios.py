"""What each values set deploys: the store the broker connects to, the replica set, scaling, the ingress
and the MQTT southbound."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.helm.chart import NAMESPACE, PREFIX, RELEASE, render, scenario

BROKER = f"{PREFIX}-broker"
SVC = f"{NAMESPACE}.svc.cluster.local"


def _expand(env: dict[str, dict[str, Any]], value: str) -> str:
    """Kubernetes' $(VAR) expansion of plain values (what the container sees)."""
    return re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)].get("value", f"<{m.group(1)}>"), value)


def _secret_value(manifests, name: str, key: str) -> str:
    secret = manifests.get("Secret", name)
    if key in secret.get("stringData", {}):
        return secret["stringData"][key]
    return base64.b64decode(secret["data"][key]).decode()


# --- MongoDB ------------------------------------------------------------------------------------------------


def test_default_installs_a_three_member_replica_set_with_keyfile_auth() -> None:
    manifests = scenario("default")
    sts = manifests.get("StatefulSet", f"{PREFIX}-mongodb")
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["serviceName"] == f"{PREFIX}-mongodb-headless"
    headless = manifests.get("Service", f"{PREFIX}-mongodb-headless")
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"] is True
    mongod = manifests.pod("mongodb").container("mongod")
    assert mongod["image"] == "mongo:7.0"
    args = mongod["args"]
    assert args[:1] == ["mongod"]
    assert args[args.index("--replSet") + 1] == "rs0"
    assert args[args.index("--keyFile") + 1] == "/keyfile/keyfile"
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert {"name": "data", "mountPath": "/data/db"} in mongod["volumeMounts"]
    # the keyfile reaches mongod as its own, mode 0400 (mongod refuses one its group may read)
    copy = manifests.pod("mongodb").container("keyfile")
    assert copy["command"] == ["install", "-m", "0400", "/keyfile-secret/keyfile", "/keyfile/keyfile"]
    secret = manifests.get("Secret", f"{PREFIX}-mongodb")
    keyfile = _secret_value(manifests, f"{PREFIX}-mongodb", "keyfile")
    assert re.fullmatch(r"[A-Za-z0-9+/=]{6,1024}", keyfile)
    assert len(_secret_value(manifests, secret["metadata"]["name"], "root-password")) >= 32
    assert manifests.get("PodDisruptionBudget", f"{PREFIX}-mongodb")["spec"]["maxUnavailable"] == 1


def test_default_broker_connects_to_every_member_as_the_application_user() -> None:
    manifests = scenario("default")
    env = manifests.pod("broker").env("broker")
    url = _expand(env, env["VERBUND_STORE_URL"]["value"])
    members = ",".join(f"{PREFIX}-mongodb-{i}.{PREFIX}-mongodb-headless.{SVC}:27017" for i in range(3))
    assert url == f"mongodb://verbund:<MONGODB_PASSWORD>@{members}/?replicaSet=rs0&authSource=admin"
    assert env["MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{PREFIX}-mongodb",
        "key": "password",
    }
    # the broker is declared before $(MONGODB_PASSWORD) is used: Kubernetes expands only earlier variables
    names = list(env)
    assert names.index("MONGODB_PASSWORD") < names.index("VERBUND_STORE_URL")


def _init_job(manifests) -> dict:
    (job,) = manifests.of_kind("Job")
    return job


def test_the_init_job_initiates_the_replica_set_alongside_the_install() -> None:
    manifests = scenario("default")
    job = _init_job(manifests)
    # not a hook: `helm install --wait` runs post-install hooks only once everything is ready, and the
    # broker is ready only once the replica set is initiated
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    assert re.fullmatch(rf"{PREFIX}-mongodb-init-[0-9a-f]{{8}}", job["metadata"]["name"])
    env = manifests.pod("mongodb-init").env("init-replicaset")
    assert env["MEMBERS"]["value"].count(",") == 2
    assert env["REPLICA_SET"]["value"] == "rs0"
    scripts = manifests.get("ConfigMap", f"{PREFIX}-mongodb-init")["data"]
    assert "rs.initiate(" in scripts["initiate.js"]
    assert "createUser" in scripts["reconcile.js"] and "readWriteAnyDatabase" in scripts["reconcile.js"]
    assert "/scripts/initiate.js" in scripts["init.sh"] and "/scripts/reconcile.js" in scripts["init.sh"]


def test_the_init_job_runs_again_when_the_members_change() -> None:
    """A Job cannot be changed in place: a new member count must make a new Job (which adds the members)."""
    values = {"mongodb": {"bundled": {"auth": {"existingSecret": "mongo-credentials"}}}}
    three = _init_job(render(values))["metadata"]["name"]
    assert _init_job(render(values))["metadata"]["name"] == three
    values["mongodb"]["bundled"]["replicas"] = 5
    assert _init_job(render(values))["metadata"]["name"] != three


def test_long_release_names_still_fit() -> None:
    manifests = render({"fullnameOverride": "x" * 80})
    for document in manifests.documents:
        assert len(document["metadata"]["name"]) <= 63, document["metadata"]["name"]
    # a StatefulSet's controller-revision-hash label is its name and 11 more characters
    assert all(len(s["metadata"]["name"]) <= 52 for s in manifests.of_kind("StatefulSet"))


def test_bundled_mongodb_follows_its_values() -> None:
    manifests = scenario("bundled-mongodb")
    sts = manifests.get("StatefulSet", f"{PREFIX}-mongodb")
    assert sts["spec"]["replicas"] == 5
    claim = sts["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim["storageClassName"] == "fast-ssd" and claim["resources"]["requests"]["storage"] == "50Gi"
    args = manifests.pod("mongodb").container("mongod")["args"]
    assert args[args.index("--replSet") + 1] == "verbund"
    assert args[args.index("--wiredTigerCacheSizeGB") + 1] == "1.5"
    # credentials come from the operator's Secret; the chart creates none
    assert f"{PREFIX}-mongodb" not in manifests.names("Secret")
    env = manifests.pod("broker").env("broker")
    assert env["MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "mongo-credentials"
    assert "replicaSet=verbund" in env["VERBUND_STORE_URL"]["value"]
    assert env["VERBUND_STORE_URL"]["value"].count(":27017") == 5
    keyfile = manifests.pod("mongodb").volume("keyfile-secret")
    assert keyfile["secret"]["secretName"] == "mongo-credentials"


def test_external_mongodb_deploys_no_database_and_keeps_the_uri_secret() -> None:
    manifests = scenario("external-mongodb")
    assert not manifests.of_kind("StatefulSet") and not manifests.of_kind("Job")
    assert not any(p.labels["app.kubernetes.io/component"].startswith("mongodb") for p in manifests.pods())
    env = manifests.pod("broker").env("broker")
    ref = env["VERBUND_STORE_URL"]["valueFrom"]["secretKeyRef"]
    assert (
        _secret_value(manifests, ref["name"], ref["key"])
        == "mongodb://verbund:s3cret@db1,db2,db3/?replicaSet=rs"
    )
    assert "s3cret" not in str(manifests.get("ConfigMap", f"{PREFIX}-config"))
    # no policy for pods that do not exist
    assert f"{PREFIX}-mongodb" not in manifests.names("NetworkPolicy")


def test_external_mongodb_from_an_existing_secret() -> None:
    manifests = scenario("external-mongodb-secret")
    env = manifests.pod("broker").env("broker")
    assert env["VERBUND_STORE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "atlas", "key": "connection"}
    assert f"{PREFIX}-store" not in manifests.names("Secret")


# --- the broker ---------------------------------------------------------------------------------------------


def test_default_broker_runs_two_replicas_with_a_disruption_budget() -> None:
    manifests = scenario("default")
    deployment = manifests.get("Deployment", BROKER)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert manifests.pod("broker").container("broker")["args"] == ["broker"]
    pdb = manifests.get("PodDisruptionBudget", BROKER)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "broker"
    assert not manifests.of_kind("HorizontalPodAutoscaler")


def test_autoscaling_hands_the_replica_count_to_the_autoscaler() -> None:
    manifests = scenario("autoscaling")
    hpa = manifests.get("HorizontalPodAutoscaler", BROKER)
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": BROKER}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    targets = {
        m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]
    }
    assert targets == {"cpu": 60, "memory": 80}
    # a fixed replica count would fight the autoscaler on every upgrade
    assert "replicas" not in manifests.get("Deployment", BROKER)["spec"]
    # utilisation is measured against requests, so the broker must have them
    assert manifests.pod("broker").container("broker")["resources"]["requests"]["cpu"]


def test_services_are_wired_to_each_other_inside_the_cluster() -> None:
    manifests = scenario("default")
    broker_url = f"http://{BROKER}.{SVC}:1026"
    agents = manifests.pod("agents").container("agents")
    assert agents["args"] == ["agents", "--broker-url", broker_url]
    config = manifests.get("ConfigMap", f"{PREFIX}-config")["data"]
    assert config["VERBUND_HOST"] == "0.0.0.0" and config["VERBUND_DATA_DIR"] == "/data"
    assert config["VERBUND_PUBLIC_URL"] == broker_url
    # the platform @context, which the catalog and the dashboard name by the broker's in-cluster URL
    assert config["VERBUND_CONTEXT_ALLOWED_HOSTS"] == f"{BROKER}.{SVC}"
    agents_env = manifests.pod("agents").env("agents")
    assert (
        agents_env["VERBUND_AGENTS_CONTEXT_URL"]["value"] == broker_url + "/ngsi-ld/contexts/verbund.jsonld"
    )
    # the broker feeds every registered municipality to the services' in-cluster URLs (and trusts exactly
    # those although they are private addresses); the dashboard finds its own URL there
    catalog_notify = f"http://{PREFIX}-catalog.{SVC}:1030/notify"
    dashboard_notify = f"http://{PREFIX}-dashboard.{SVC}:8090/dashboard/notify"
    assert config["VERBUND_FEEDS"] == f"catalog={catalog_notify},dashboard={dashboard_notify}"
    catalog = manifests.pod("catalog").env("catalog")
    assert catalog["VERBUND_CATALOG_NOTIFY_URL"]["value"] == catalog_notify
    feed_secret = manifests.pod("broker").env("broker")["VERBUND_FEED_SECRET"]["valueFrom"]
    for service, port in (("catalog", 1030), ("dashboard", 8090)):
        env = manifests.pod(service).env(service)
        prefix = f"VERBUND_{service.upper()}"
        assert env[f"{prefix}_BROKER_URL"]["value"] == broker_url
        assert env[f"{prefix}_PORT"]["value"] == str(port)
        # the broker signs the feed with the secret the service checks it with
        assert env["VERBUND_FEED_SECRET"]["valueFrom"] == feed_secret
        assert manifests.get("Service", f"{PREFIX}-{service}")["spec"]["ports"][0]["port"] == port
    assert len(_secret_value(manifests, f"{PREFIX}-feeds", "feed-secret")) >= 32


def test_agents_keep_their_state_on_a_volume_and_never_run_twice() -> None:
    manifests = scenario("default")
    deployment = manifests.get("Deployment", f"{PREFIX}-agents")
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    claim = manifests.pod("agents").volume("data")["persistentVolumeClaim"]["claimName"]
    assert (
        manifests.get("PersistentVolumeClaim", claim)["metadata"]["annotations"]["helm.sh/resource-policy"]
        == "keep"
    )
    north = manifests.get("Service", f"{PREFIX}-agents-north")["spec"]["ports"]
    south = manifests.get("Service", f"{PREFIX}-agents-south")["spec"]["ports"]
    assert [(p["port"], p["targetPort"]) for p in north] == [(4041, "north")]
    assert [(p["port"], p["targetPort"]) for p in south] == [(7896, "south")]


# --- ingress ------------------------------------------------------------------------------------------------


def _ingress_routes(manifests) -> dict[tuple[str, str], tuple[str, str]]:
    (ingress,) = manifests.of_kind("Ingress")
    return {
        (rule["host"], path["path"]): (
            path["backend"]["service"]["name"],
            path["backend"]["service"]["port"]["name"],
        )
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }


def test_ingress_routes_each_host_and_path_to_its_service() -> None:
    manifests = scenario("ingress-tls")
    assert _ingress_routes(manifests) == {
        ("daten.verbund.example", "/"): (BROKER, "http"),
        ("daten.verbund.example", "/dashboard"): (f"{PREFIX}-dashboard", "http"),
        ("iot.verbund.example", "/iot"): (f"{PREFIX}-agents-south", "south"),
        ("opendata.verbund.example", "/"): (f"{PREFIX}-catalog", "http"),
    }
    for service, port in _ingress_routes(manifests).values():
        assert port in {p["name"] for p in manifests.get("Service", service)["spec"]["ports"]}
    (ingress,) = manifests.of_kind("Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}


def test_ingress_terminates_tls_for_every_host() -> None:
    (ingress,) = scenario("ingress-tls").of_kind("Ingress")
    (tls,) = ingress["spec"]["tls"]
    assert tls["secretName"] == f"{PREFIX}-tls"
    assert sorted(tls["hosts"]) == sorted({rule["host"] for rule in ingress["spec"]["rules"]})


def test_public_urls_follow_the_ingress() -> None:
    manifests = scenario("ingress-tls")
    config = manifests.get("ConfigMap", f"{PREFIX}-config")["data"]
    assert config["VERBUND_PUBLIC_URL"] == "https://daten.verbund.example"
    catalog = manifests.pod("catalog").env("catalog")
    assert catalog["VERBUND_CATALOG_PUBLIC_URL"]["value"] == "https://opendata.verbund.example"
    assert _secret_value(manifests, f"{PREFIX}-broker-tokens", "catalog") == "catalog-reader-key"
    # the CKAN push configuration (API keys) is a file from the operator's Secret
    ckan = manifests.pod("catalog")
    assert catalog["VERBUND_CATALOG_CKAN_CONFIG"]["value"] == "/etc/verbund/ckan/ckan.json"
    assert ckan.volume("ckan")["secret"] == {
        "secretName": "ckan-keys",
        "items": [{"key": "ckan.json", "path": "ckan.json"}],
    }
    assert {"name": "ckan", "mountPath": "/etc/verbund/ckan", "readOnly": True} in ckan.container("catalog")[
        "volumeMounts"
    ]
    dashboard = manifests.pod("dashboard").env("dashboard")
    assert dashboard["VERBUND_DASHBOARD_BROKER_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "dashboard-token",
        "key": "token",
    }
    agents = manifests.pod("agents").env("agents")
    assert agents["VERBUND_AGENTS_BROKER_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "verbund-service-keys",
        "key": "agents",
    }
    # NOTES.txt tells the operator where everything is
    notes = manifests.notes
    for url in (
        "https://daten.verbund.example/ngsi-ld/v1",
        "https://opendata.verbund.example/",
        "https://daten.verbund.example/dashboard/",
        "https://iot.verbund.example/iot/json",
    ):
        assert url in notes


def test_without_ingress_there_is_none_and_notes_say_how_to_reach_the_broker() -> None:
    manifests = scenario("default")
    assert not manifests.of_kind("Ingress")
    assert f"kubectl -n {NAMESPACE} port-forward svc/{BROKER} 1026" in manifests.notes


def test_notes_tell_how_to_create_the_first_municipality() -> None:
    notes = scenario("default").notes
    assert f'kubectl -n {NAMESPACE} exec deploy/{BROKER} -- env VERBUND_TOKEN="$ADMIN_KEY"' in notes
    assert "verbund municipality add kaiserslautern" in notes
    assert "curl -X POST http://127.0.0.1:1026/verbund/v1/municipalities" in notes  # after the port-forward
    assert f"get secret {RELEASE}-verbund-admin -o jsonpath='{{.data.admin-key}}'" in notes  # the admin key
    # and that the consumers lack a broker credential
    assert "catalog.brokerToken" in notes and "dashboard.brokerToken" in notes
    assert "brokerToken" not in scenario("ingress-tls").notes  # all three have one there


# --- MQTT ---------------------------------------------------------------------------------------------------


def test_bundled_mosquitto_is_what_the_agents_connect_to() -> None:
    manifests = scenario("mqtt")
    env = manifests.pod("agents").env("agents")
    url = _expand(env, env["VERBUND_AGENTS_MQTT_URL"]["value"])
    assert url == f"mqtt://verbund-agents:<MQTT_PASSWORD>@{PREFIX}-mosquitto.{SVC}:1883"
    assert env["MQTT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{PREFIX}-mosquitto",
        "key": "agents-password",
    }
    service = manifests.get("Service", f"{PREFIX}-mosquitto")
    assert service["spec"]["type"] == "LoadBalancer"
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"mqtt": 1883, "mqtts": 8883}
    users = _secret_value(manifests, f"{PREFIX}-mosquitto", "users")
    assert users == "pegel-lauter:geheim-1"
    config = manifests.get("ConfigMap", f"{PREFIX}-mosquitto")["data"]["mosquitto.conf"]
    assert "allow_anonymous false" in config and "listener 8883" in config


def test_agents_connect_to_an_external_mqtt_broker_through_a_secret() -> None:
    manifests = scenario("mqtt-external")
    env = manifests.pod("agents").env("agents")
    ref = env["VERBUND_AGENTS_MQTT_URL"]["valueFrom"]["secretKeyRef"]
    assert (
        _secret_value(manifests, ref["name"], ref["key"]) == "mqtt://agents:pw@mqtt.stadtwerke.example:1883"
    )
    assert f"{PREFIX}-mosquitto" not in manifests.names("Deployment")


def test_without_mqtt_the_agents_get_no_mqtt_url() -> None:
    env = scenario("default").pod("agents").env("agents")
    assert "VERBUND_AGENTS_MQTT_URL" not in env


def test_the_admin_key_is_generated_in_the_brokers_format_or_taken_from_an_existing_secret() -> None:
    manifests = scenario("default")
    secret = manifests.get("Secret", f"{RELEASE}-verbund-admin")
    assert re.fullmatch(r"vk_[0-9a-f]{16}_[A-Za-z0-9]{43}", secret["stringData"]["admin-key"])
    own = render({"adminKey": {"existingSecret": "our-admin-key"}})
    assert not [s for s in own.of_kind("Secret") if s["metadata"]["name"].endswith("-verbund-admin")]
    env = own.pod("broker").env("broker")["VERBUND_ADMIN_KEY"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "our-admin-key", "key": "admin-key"}
