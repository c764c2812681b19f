"""Validation on write: each tenant's policy (off, warn, enforce) applied to every entity the API writes.

Broker.apply (broker_adapter/api/deps.py) is the one seam every entity write passes through; it wraps each
Change so that the entity the change produces is checked against its model before it is stored:

    off       nothing is checked
    warn      the write succeeds; each finding becomes an NGSILD-Warning header line and a metric
    enforce   the entity is rejected with BadRequestData listing the violations and nothing of it is
              written (in a batch, that entity is reported in the 207 and the others are written)

An entity whose types have no model is accepted, noted under warn, and rejected under enforce only when
the tenant's policy requires known types. The policy is stored per tenant under the key "sdm_policy"
(the municipality registry will own it); tenants without one get the platform default
(VERBUND_SDM_POLICY).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from broker_adapter.ngsild.errors import BadRequestData
from broker_adapter.ngsild.types import ExpandedEntity, Tenant
from broker_adapter.storage.port import Change
from smart_data_models.catalog import Catalog, local_name
from smart_data_models.keywords import Violation
from smart_data_models.reduce import Compactor, key_values_view

MODES = ("off", "warn", "enforce")
SETTING_KEY = "sdm_policy"
POLICY_TTL = 2.0  # seconds a tenant's policy is cached; a change through the API applies at once
MAX_LISTED = 20  # violations named in one error detail


@dataclass(frozen=True, slots=True)
class Policy:
    mode: str = "off"
    require_known_types: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"SDM policy must be one of {', '.join(MODES)}, not {self.mode!r}")

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "requireKnownTypes": self.require_known_types}

    @classmethod
    def from_json(cls, value: Any) -> Policy:
        """A stored or submitted policy: "warn", or {"mode": "enforce", "requireKnownTypes": true}."""
        if isinstance(value, str):
            return cls(value)
        if not isinstance(value, dict) or not isinstance(value.get("mode"), str):
            raise ValueError(
                'an SDM policy is "off", "warn", "enforce" or {"mode": ..., "requireKnownTypes": bool}'
            )
        known = value.get("requireKnownTypes", False)
        if not isinstance(known, bool):
            raise ValueError("requireKnownTypes must be true or false")
        return cls(value["mode"], known)


class ModelViolation(BadRequestData):
    """An entity that does not match its Smart Data Model; the ProblemDetails also list the violations."""

    def __init__(self, entity_id: str, found: list[tuple[str, Violation]]) -> None:
        listed = "; ".join(f"{model}: {v.where}: {v.message}" for model, v in found[:MAX_LISTED])
        more = f"; and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
        super().__init__(f"entity {entity_id} does not match its Smart Data Model: {listed}{more}")
        self.violations = [{"model": model, **v.to_json()} for model, v in found]

    def problem(self) -> dict[str, Any]:
        return {**super().problem(), "violations": self.violations}


class UnknownModel(BadRequestData):
    def __init__(self, entity_id: str, types: list[str]) -> None:
        names = ", ".join(local_name(t) for t in types)
        super().__init__(
            f"entity {entity_id}: no Smart Data Model is known for type {names}, and this tenant "
            "accepts only types with a model (see verbund sdm list)"
        )


@dataclass
class SdmMetrics:
    """verbund_sdm_checks_total{model, policy, outcome}: valid, invalid, rejected, unknown_type."""

    counts: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, model: str, policy: str, outcome: str) -> None:
        with self.lock:
            self.counts[(model, policy, outcome)] += 1

    def render(self) -> str:
        lines = [
            "# HELP verbund_sdm_checks_total entities checked against Smart Data Models, by outcome",
            "# TYPE verbund_sdm_checks_total counter",
        ]
        with self.lock:
            for (model, policy, outcome), n in sorted(self.counts.items()):
                labels = f'model="{model}",policy="{policy}",outcome="{outcome}"'
                lines.append(f"verbund_sdm_checks_total{{{labels}}} {n}")
        return "\n".join(lines) + "\n"


@dataclass
class Findings:
    """What one entity's check found: violations per model, and types without a model."""

    violations: list[tuple[str, Violation]] = field(default_factory=list)
    unknown_types: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)


class Validation:
    """The catalog and the platform terms, ready to check stored (expanded) entities."""

    def __init__(self, catalog: Catalog, platform_terms: dict[str, str], metrics: SdmMetrics | None = None):
        self.catalog = catalog
        self.compactor = Compactor({iri: term for term, iri in platform_terms.items()})
        self.metrics = metrics or SdmMetrics()

    def check(self, entity: ExpandedEntity) -> Findings:
        findings = Findings()
        models, findings.unknown_types = self.catalog.find(entity.get("type", ()))
        for model in models:
            findings.models.append(model.name)
            view = key_values_view(entity, model.name, self.compactor)
            findings.violations.extend((model.name, v) for v in model.validate(view))
        return findings


class Policies:
    """Per-tenant policies read from the store, cached for POLICY_TTL seconds (the writer thread reads)."""

    def __init__(self, default: Policy, clock: Callable[[], float] = time.monotonic) -> None:
        self.default = default
        self._clock = clock
        self._cache: dict[Tenant, tuple[float, Policy]] = {}

    def get(self, store: Any, tenant: Tenant) -> Policy:
        now = self._clock()
        hit = self._cache.get(tenant)
        if hit is not None and now - hit[0] < POLICY_TTL:
            return hit[1]
        raw = store.get_tenant_setting(tenant, SETTING_KEY)
        try:
            policy = self.default if raw is None else Policy.from_json(raw)
        except ValueError:
            policy = self.default  # a malformed stored value must not stop writes; the setter validates
        self._cache[tenant] = (now, policy)
        return policy

    def set(self, store: Any, tenant: Tenant, policy: Policy | None) -> None:
        store.set_tenant_setting(tenant, SETTING_KEY, None if policy is None else policy.to_json())
        self._cache.pop(tenant, None)


class Guard:
    """Wraps one request's changes with the tenant's policy; collects warn-mode notes for the response."""

    def __init__(self, validation: Validation, policy: Policy) -> None:
        self.validation = validation
        self.policy = policy
        self.notes: list[str] = []

    def wrap(self, changes: list[Change]) -> list[Change]:
        if self.policy.mode == "off":
            return changes
        return [Change(c.entity_id, self._checked(c.apply)) for c in changes]

    def _checked(self, apply: Callable[[ExpandedEntity | None], ExpandedEntity | None]):
        def run(before: ExpandedEntity | None) -> ExpandedEntity | None:
            after = apply(before)
            if after is not None and after is not before:
                self.judge(after)
            return after

        return run

    def judge(self, entity: ExpandedEntity) -> None:
        """Raise under enforce, note under warn; count either way."""
        mode, metrics = self.policy.mode, self.validation.metrics
        findings = self.validation.check(entity)
        entity_id = entity.get("id", "")
        if findings.unknown_types and not findings.models:
            metrics.count("(none)", mode, "unknown_type")
            if mode == "enforce" and self.policy.require_known_types:
                raise UnknownModel(entity_id, findings.unknown_types)
            if mode == "warn":
                names = ", ".join(local_name(t) for t in findings.unknown_types)
                self.notes.append(f"{entity_id}: type {names} has no Smart Data Model; not checked")
            return
        failed = {model for model, _ in findings.violations}
        for model in findings.models:
            outcome = "valid" if model not in failed else ("rejected" if mode == "enforce" else "invalid")
            metrics.count(model, mode, outcome)
        if not findings.violations:
            return
        if mode == "enforce":
            raise ModelViolation(entity_id, findings.violations)
        for model, v in findings.violations:
            self.notes.append(f"{entity_id}: {model}: {v.where}: {v.message} ({v.rule})")


class SdmGate:
    """What Broker.apply uses on the writer thread: the tenant's policy as a Guard around each request."""

    def __init__(self, validation: Validation, policies: Policies) -> None:
        self.validation = validation
        self.policies = policies

    def guard(self, store: Any, tenant: Tenant) -> Guard:
        """The checks for one request to `tenant` (wrap its changes, then read its notes)."""
        return Guard(self.validation, self.policies.get(store, tenant))
