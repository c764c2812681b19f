"""Warn-mode findings of one request, carried to its response as NGSILD-Warning headers.

NGSI-LD (clause 6.3.x, distributed operations) names the NGSILD-Warning header and gives it the syntax of
RFC 7234's Warning: `199 <agent> "<text>"`. We use it for Smart Data Models findings under the "warn"
policy: one header line per finding, at most MAX_LINES, then one line saying how many more there were.
The list lives in a context variable that BrokerApp sets per write request; Broker.apply adds to it.
"""

from __future__ import annotations

from contextvars import ContextVar

HEADER = b"ngsild-warning"
AGENT = "verbund-sdm"
MAX_LINES = 10
MAX_TEXT = 300

REQUEST_NOTES: ContextVar[list[str] | None] = ContextVar("verbund_sdm_notes", default=None)


def note(found: list[str]) -> None:
    """Add findings to the current request's response (a no-op outside a request)."""
    notes = REQUEST_NOTES.get()
    if notes is not None:
        notes.extend(found)


def _quoted(text: str) -> str:
    clean = "".join(ch if " " <= ch <= "~" else "?" for ch in text)  # header values: printable ASCII
    clean = clean.replace("\\", "\\\\").replace('"', '\\"')
    return clean if len(clean) <= MAX_TEXT else clean[: MAX_TEXT - 3] + "..."


def header_lines(notes: list[str]) -> list[tuple[bytes, bytes]]:
    lines = [f'199 {AGENT} "{_quoted(text)}"' for text in notes[:MAX_LINES]]
    if len(notes) > MAX_LINES:
        lines.append(f'199 {AGENT} "and {len(notes) - MAX_LINES} more Smart Data Models findings"')
    return [(HEADER, line.encode("ascii")) for line in lines]
