"""The audit log: who did what to municipalities and credentials, and refused credentials.

Each entry is one JSON line in <data dir>/audit.log (mode 0600, appended and flushed per entry) and the
same record on the "verbund.audit" logger, so it reaches the operator's log pipeline too. Entries name
credentials by id and never carry a secret.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import orjson

from broker_adapter.access.roles import Principal
from broker_adapter.ngsild.datetimes import now_iso

log = logging.getLogger("verbund.audit")


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))

    def record(
        self, actor: Principal | str, action: str, target: str, outcome: str = "ok", **details: Any
    ) -> None:
        entry = {
            "at": now_iso(),
            "actor": actor.subject if isinstance(actor, Principal) else actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            **details,
        }
        log.info("audit", extra={"audit": entry})
        if self.path is None:
            return
        line = orjson.dumps(entry) + b"\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def entries(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest `limit` entries, oldest first."""
        if self.path is None or not self.path.exists():
            return []
        lines = self.path.read_bytes().splitlines()[-limit:]
        return [orjson.loads(line) for line in lines if line.strip()]
