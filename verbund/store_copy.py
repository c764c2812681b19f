"""`verbund store copy SOURCE TARGET`: move a whole installation from one store to another.

Copies, per tenant, the settings (and history retention), the entities and the history; then every
stored @context and every subscription with its status and queued notifications. Pages are written
idempotently (storage/transfer.py), and after each page the position is saved in a checkpoint file,
so an interrupted copy resumes where it stopped (`--restart` starts over). At the end every tenant is
verified: the number of entities, temporal entities and history instances, and a SHA-256 over each
(canonical JSON, in key order) must be the same in both stores; so must contexts and subscriptions.

The IoT agents' provisioning and outbox and the catalog's `catalog.db` are SQLite files of those services
in the data directory, not part of the broker's store, and are not copied: move the data directory with
the agents (the catalog rebuilds its file from the broker by its reconcile).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from broker_adapter.storage.open import open_store
from broker_adapter.storage.transfer import HistoryDump, Transfer, open_transfer, put_settings

PAGE = 500


class CopyMismatch(RuntimeError):
    """The target does not hold what the source holds after the copy."""


@dataclass
class Summary:
    """Per tenant: counts and checksums of entities, temporal entities and history instances."""

    entities: int = 0
    temporal: int = 0
    instances: int = 0
    entity_hash: str = ""
    history_hash: str = ""


@dataclass
class CopyReport:
    tenants: dict[str, Summary] = field(default_factory=dict)
    contexts: int = 0
    subscriptions: int = 0
    queued: int = 0


class Checkpoint:
    """Progress saved after every page: {"done": [section, ...], "at": {section: last key}}."""

    def __init__(self, path: Path, key: str, restart: bool) -> None:
        self.path = path
        self.data: dict[str, Any] = {"key": key, "done": [], "at": {}}
        if path.exists() and not restart:
            saved = orjson.loads(path.read_bytes())
            if saved.get("key") != key:
                raise ValueError(f"{path} is the checkpoint of another copy; remove it or use --restart")
            self.data = saved

    def done(self, section: str) -> bool:
        return section in self.data["done"]

    def position(self, section: str) -> Any:
        return self.data["at"].get(section)

    def advance(self, section: str, position: Any) -> None:
        self.data["at"][section] = position
        self._save()

    def finish(self, section: str) -> None:
        self.data["done"].append(section)
        self.data["at"].pop(section, None)
        self._save()

    def _save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(self.data))
        tmp.replace(self.path)  # atomic: a crash leaves the old or the new checkpoint

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Progress:
    """One status line on stderr, rewritten in place on a terminal (a line per update otherwise)."""

    def __init__(self, out: TextIO | None) -> None:
        self.out = out
        self.tty = bool(out is not None and out.isatty())
        self._last = 0.0

    def show(self, text: str, *, force: bool = False) -> None:
        if self.out is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        if self.tty:
            self.out.write("\r\x1b[K" + text)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def end(self) -> None:
        if self.out is not None and self.tty:
            self.out.write("\n")
            self.out.flush()


def copy_store(
    source_url: str,
    target_url: str,
    *,
    checkpoint: Path,
    restart: bool = False,
    page: int = PAGE,
    progress: TextIO | None = None,
    data_dir: str | Path = "./data",
    stop_after: Callable[[str, int], bool] | None = None,
) -> CopyReport:
    """Copy everything; `stop_after(section, pages)` lets tests interrupt a copy after some pages."""
    if source_url == target_url:
        raise ValueError("source and target are the same store")
    source_store = open_store(source_url, data_dir)
    target_store = open_store(target_url, data_dir)
    try:
        source, target = open_transfer(source_store), open_transfer(target_store)
        state = Checkpoint(checkpoint, f"{source_url} -> {target_url}", restart)
        bar = Progress(progress)
        tenants = source.tenants()
        for n, tenant in enumerate(tenants, start=1):
            name = tenant or "(default)"
            label = f"[{n}/{len(tenants)}] {name}"
            section = f"settings:{tenant}"
            if not state.done(section):
                put_settings(target, tenant, source.settings(tenant))
                state.finish(section)
            total = source_store.query(tenant, _count_all()).total or 0
            _pages(
                state,
                f"entities:{tenant}",
                lambda after, t=tenant: source.entities(t, after, page),
                lambda items, t=tenant: target.put_entities(t, items),
                lambda e: e["id"],
                lambda done, label=label, total=total: bar.show(f"{label} entities {done}/{total}"),
                stop_after,
            )
            _pages(
                state,
                f"history:{tenant}",
                lambda after, t=tenant: source.history(t, after, page),
                lambda items, t=tenant: target.put_history(t, items),
                lambda d: d.id,
                lambda done, label=label: bar.show(f"{label} temporal entities {done}"),
                stop_after,
            )
        if not state.done("contexts"):
            for record in source_store.list_contexts():
                target_store.put_context(record)
            state.finish("contexts")
        _pages(
            state,
            "subscriptions",
            lambda after: source.subscriptions(tuple(after) if after else None, page),
            target.put_subscriptions,
            lambda d: [d.sub.tenant, d.sub.id],
            lambda done: bar.show(f"subscriptions {done}"),
            stop_after,
        )
        bar.show("verifying counts and checksums", force=True)
        report = verify(source, target, source_store, target_store, tenants, page)
        bar.show(
            f"copied {len(tenants)} tenants, {sum(s.entities for s in report.tenants.values())} entities,"
            f" {sum(s.instances for s in report.tenants.values())} history instances,"
            f" {report.subscriptions} subscriptions ({report.queued} queued notifications),"
            f" {report.contexts} @contexts: verified",
            force=True,
        )
        bar.end()
        state.remove()
        return report
    finally:
        source_store.close()
        target_store.close()


class Interrupted(Exception):
    """Raised by a test's stop_after hook to simulate a copy that died."""


def _pages(
    state: Checkpoint,
    section: str,
    read: Callable[[Any], list[Any]],
    write: Callable[[list[Any]], None],
    key: Callable[[Any], Any],
    show: Callable[[int], None],
    stop_after: Callable[[str, int], bool] | None,
) -> None:
    if state.done(section):
        return
    after = state.position(section)
    copied = 0 if after is None else state.data.get("count", {}).get(section, 0)
    pages = 0
    while True:
        items = read(after)
        if not items:
            break
        write(items)
        after = key(items[-1])
        copied += len(items)
        state.data.setdefault("count", {})[section] = copied
        state.advance(section, after)
        show(copied)
        pages += 1
        if stop_after is not None and stop_after(section, pages):
            raise Interrupted(section)
    state.finish(section)


def _count_all() -> Any:
    from broker_adapter.storage.port import EntityQuery

    return EntityQuery(limit=0, count=True)


# -- verification ---------------------------------------------------------------------------------------


def _all(read: Callable[[Any], list[Any]], key: Callable[[Any], Any]) -> Iterator[Any]:
    after = None
    while items := read(after):
        yield from items
        after = key(items[-1])


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def summarize(transfer: Transfer, tenant: str, page: int = PAGE) -> Summary:
    summary = Summary()
    entities = hashlib.sha256()
    for entity in _all(lambda after: transfer.entities(tenant, after, page), lambda e: e["id"]):
        summary.entities += 1
        entities.update(_canonical(entity))
    history = hashlib.sha256()
    dump: HistoryDump
    for dump in _all(lambda after: transfer.history(tenant, after, page), lambda d: d.id):
        summary.temporal += 1
        history.update(_canonical([dump.id, dump.types, dump.created, dump.deleted]))
        for r in dump.rows:
            summary.instances += 1
            modified = r.modified if r.modified is not None else r.created
            row = [r.attr, r.dataset, r.kind, r.observed, r.created, modified, r.deleted, r.v, r.doc]
            history.update(_canonical(row))
    summary.entity_hash, summary.history_hash = entities.hexdigest(), history.hexdigest()
    return summary


def verify(
    source: Transfer, target: Transfer, source_store: Any, target_store: Any, tenants: list[str], page: int
) -> CopyReport:
    report = CopyReport()
    problems = []
    for tenant in tenants:
        want, got = summarize(source, tenant, page), summarize(target, tenant, page)
        report.tenants[tenant] = got
        if want != got:
            problems.append(f"tenant {tenant or '(default)'}: source {want}, target {got}")
        if source.settings(tenant) != target.settings(tenant):
            problems.append(f"tenant {tenant or '(default)'}: settings differ")
    contexts = [sorted(map(_context, store.list_contexts())) for store in (source_store, target_store)]
    if contexts[0] != contexts[1]:
        problems.append("@contexts differ")
    report.contexts = len(contexts[1])
    subs = {
        side: [
            (d.sub.tenant, d.sub.id, _canonical(d.sub.doc), d.sub.times_sent, [q.body for q in d.queued])
            for d in _all(
                lambda after, t=t: t.subscriptions(tuple(after) if after else None, page),
                lambda d: [d.sub.tenant, d.sub.id],
            )
        ]
        for side, t in (("source", source), ("target", target))
    }
    if subs["source"] != subs["target"]:
        problems.append("subscriptions differ")
    report.subscriptions = len(subs["target"])
    report.queued = sum(len(s[4]) for s in subs["target"])
    if problems:
        raise CopyMismatch("the copy does not match its source: " + "; ".join(problems))
    return report


def _context(record: Any) -> bytes:
    fields = [
        record.id,
        record.url,
        record.kind,
        record.document,
        record.created_at,
        record.last_usage,
        record.hits,
    ]
    return _canonical(fields)
