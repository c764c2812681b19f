"""The one settings object: defaults, overridden by VERBUND_* environment variables, then by CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

_LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class Settings:
    data_dir: str = "./data"
    store_url: str = ""  # empty: sqlite:///<data_dir>/verbund.db
    host: str = "127.0.0.1"
    broker_port: int = 1026
    iota_north_port: int = 4041
    iota_south_port: int = 7896
    public_url: str = ""  # how clients reach the broker; empty: http://<host>:<broker_port>
    log_level: str = "info"
    log_format: str = "json"  # json or text
    sqlite_synchronous: str = "FULL"
    max_body_bytes: int = 1024 * 1024
    max_batch_body_bytes: int = 32 * 1024 * 1024
    max_json_depth: int = 32
    max_batch_entities: int = 10_000
    context_fetch_timeout: float = 5.0
    context_max_bytes: int = 2 * 1024 * 1024
    default_limit: int = 20
    max_limit: int = 1000
    # history (issue 5): recording on/off, default retention (ISO 8601 duration, empty: unlimited),
    # instances per attribute in one temporal answer (more: 206 with Content-Range)
    history: str = "on"
    history_retention: str = ""
    temporal_max_instances: int = 1000
    # notifications (issue 4): endpoint policy, delivery timing, replicas
    notify_allowed_hosts: str = ""  # hosts, IPs or CIDRs allowed although loopback/private (comma list)
    notify_trusted_tenants: str = ""  # tenants (platform services) exempt from the endpoint policy
    notify_timeout: float = 10.0  # seconds per delivery attempt
    notify_retry_base: float = 1.0  # first retry delay; doubles per failed attempt
    notify_retry_max: float = 300.0  # longest retry delay
    notify_endpoint_concurrency: int = 4  # deliveries in flight per endpoint (host:port)
    notify_lease_seconds: float = 30.0  # how long a replica owns claimed work before others may take it
    notify_poll_interval: float = 0.05  # seconds between looks at the change log, outbox and subscriptions
    notify_batch: int = 50  # notifications one subscription delivers per claim, in order
    notify_process: str = "separate"  # matcher and senders in a child process, or "inline" in the API's
    # Smart Data Models (issue 8): the policy of tenants that have none of their own (off, warn, enforce)
    sdm_policy: str = "off"
    # IoT agents (issue 7): the NGSI-LD broker they feed (empty: this installation's broker on loopback), the
    # @context they send (iotagent-node-lib's default is the core context), the MQTT broker of the devices and
    # network servers (empty: no MQTT southbound), the durable outbox and the expression bounds
    agents_broker_url: str = ""
    agents_context_url: str = ""  # empty: the platform @context of this installation's broker, else core
    agents_mqtt_url: str = ""
    agents_outbox_max: int = 1_000_000  # undelivered entity fragments kept; more: the sender gets 503
    agents_batch_max: int = 500  # entity fragments per upsert request
    agents_timeout: float = 10.0  # seconds per upsert request
    agents_retry_max: float = 10.0  # longest pause between retries while the broker is unreachable
    agents_expression_max_length: int = 4096
    # MongoDB store (issue 6; used when store_url is mongodb://...): pool and timeouts (ms), and the
    # database prefix (empty: the URL's database, else "verbund")
    mongo_max_pool_size: int = 100
    mongo_min_pool_size: int = 0
    mongo_server_selection_timeout_ms: int = 5000
    mongo_connect_timeout_ms: int = 5000
    mongo_socket_timeout_ms: int = 30000
    mongo_wait_queue_timeout_ms: int = 5000
    mongo_database: str = ""
    # municipalities and access (issue 9): the services each registered municipality feeds
    # ("catalog=URL,dashboard=URL") and the secret their per-tenant feed tokens derive from (verbund/feeds.py)
    feeds: str = ""
    feed_secret: str = ""
    # credentials (docs/access.md): on, or off for a local trial (loopback only); JWTs checked against a JWKS
    # (file or URL) with issuer and audience, claims naming roles and tenants; requests per second per
    # credential (0: unlimited) and the burst allowed; hosts @context fetching may reach although internal
    auth: str = "on"
    jwks: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    jwt_roles_claim: str = "roles"
    jwt_tenants_claim: str = "tenants"
    rate_limit: float = 50.0
    rate_burst: int = 200
    context_allowed_hosts: str = ""
    agents_broker_token: str = ""  # the credential the agents send to the broker (verbund serve: its own)
    # a platform-admin API key (vk_<16 hex>_<43 chars>) installed at start instead of generating one into
    # <data dir>/admin.key: for deployments that keep it in a secret store (the Helm chart's Secret)
    admin_key: str = ""
    # open-data catalog (issue 10): its own port when alone, the broker it reads (empty: this installation's
    # on loopback) with its reader token, the URL harvesters use (empty: derived), where the broker sends
    # its feed (empty: <catalog URL>/notify; its token comes from feed_secret, or when that is empty from a
    # secret generated once in the data dir), how often it reconciles with the broker (seconds), datasets
    # per harvesting page, and the per-municipality CKAN push
    catalog_port: int = 1030
    catalog_broker_url: str = ""
    catalog_broker_token: str = ""
    catalog_public_url: str = ""
    catalog_notify_url: str = ""
    catalog_sync_interval: float = 60.0
    catalog_page_size: int = 100
    catalog_max_notification_bytes: int = 4 * 1024 * 1024
    catalog_municipalities_file: str = ""  # municipality records as JSON instead of the registry API
    catalog_ckan_config: str = ""  # JSON file: {tenant: {"url", "apiKey", "ownerOrg"}}
    catalog_publisher: str = "Verbund"  # who publishes the platform catalog (dct:publisher of dcat:Catalog)
    # dashboard (issue 11): its port when run alone, the broker it reads (empty: this installation's), its
    # reader credential, tenants it shows besides the registry's open-data municipalities (all it shows
    # without a registry), the map's tile server (empty: none) and the bounds of live updates. Its notify URL
    # is its entry in `feeds` (default: derived from its port, or /dashboard on the broker's port in serve).
    dashboard_port: int = 8090
    dashboard_broker_url: str = ""
    dashboard_broker_token: str = ""
    dashboard_tenants: str = ""
    dashboard_tile_url: str = ""  # e.g. https://tiles.example.org/{z}/{x}/{y}.png
    dashboard_tile_attribution: str = ""
    dashboard_reconcile_interval: float = 60.0  # seconds between checks of the feed subscriptions
    dashboard_client_queue: int = 256  # live updates kept per browser before it is told to reload its data
    dashboard_max_clients: int = 1000  # open live-update streams

    def __post_init__(self) -> None:
        if self.auth not in ("on", "off"):
            raise ValueError(f"auth must be on or off, not {self.auth!r}")
        if self.rate_limit < 0 or self.rate_burst < 1:
            raise ValueError("rate_limit must be >= 0 and rate_burst >= 1")
        if self.log_level not in _LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(_LOG_LEVELS)}, not {self.log_level!r}")
        if self.log_format not in ("json", "text"):
            raise ValueError(f"log format must be json or text, not {self.log_format!r}")
        for name in (
            "max_body_bytes",
            "max_batch_body_bytes",
            "max_json_depth",
            "max_batch_entities",
            "context_max_bytes",
            "default_limit",
            "max_limit",
            "notify_timeout",
            "notify_retry_base",
            "notify_retry_max",
            "notify_endpoint_concurrency",
            "notify_lease_seconds",
            "notify_poll_interval",
            "notify_batch",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.default_limit > self.max_limit:
            raise ValueError("default_limit cannot exceed max_limit")
        if self.sdm_policy not in ("off", "warn", "enforce"):
            raise ValueError(f"sdm_policy must be off, warn or enforce, not {self.sdm_policy!r}")
        if self.history not in ("on", "off"):
            raise ValueError(f"history must be on or off, not {self.history!r}")
        if self.notify_process not in ("separate", "inline"):
            raise ValueError(f"notify_process must be separate or inline, not {self.notify_process!r}")
        if self.temporal_max_instances <= 0:
            raise ValueError("temporal_max_instances must be positive")
        for name in (
            "agents_outbox_max",
            "agents_batch_max",
            "agents_timeout",
            "agents_retry_max",
            "agents_expression_max_length",
            "catalog_sync_interval",
            "catalog_page_size",
            "catalog_max_notification_bytes",
            "dashboard_port",
            "dashboard_reconcile_interval",
            "dashboard_client_queue",
            "dashboard_max_clients",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def mongo_options(self) -> Any:
        """The MongoDB client options (validated when the store opens)."""
        from broker_adapter.storage.mongo.connection import MongoOptions

        return MongoOptions(
            max_pool_size=self.mongo_max_pool_size,
            min_pool_size=self.mongo_min_pool_size,
            server_selection_timeout_ms=self.mongo_server_selection_timeout_ms,
            connect_timeout_ms=self.mongo_connect_timeout_ms,
            socket_timeout_ms=self.mongo_socket_timeout_ms,
            wait_queue_timeout_ms=self.mongo_wait_queue_timeout_ms,
            database=self.mongo_database,
        )

    @property
    def agents_northbound_url(self) -> str:
        """Where the agents send updates: the configured broker, or this installation's on loopback."""
        if self.agents_broker_url:
            return self.agents_broker_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.broker_port}"

    @property
    def agents_link_context_url(self) -> str:
        """The @context the agents send: as configured; by default the platform context (Smart Data Models
        terms) when they feed this installation's broker, and the NGSI-LD core context for any other."""
        if self.agents_context_url:
            return self.agents_context_url
        if self.agents_broker_url:
            return "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
        return self.agents_northbound_url + "/ngsi-ld/contexts/verbund.jsonld"

    @property
    def broker_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.broker_port}").rstrip("/")

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def env_name(field_name: str) -> str:
    return "VERBUND_" + field_name.upper()


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults < VERBUND_* variables < explicit overrides (CLI flags)."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None or raw == "":
            continue
        kind = type(getattr(Settings, f.name))
        try:
            values[f.name] = kind(raw)
        except ValueError as exc:
            raise ValueError(f"{env_name(f.name)}={raw!r} is not a valid {kind.__name__}") from exc
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
