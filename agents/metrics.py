"""Counters and gauges of the agents, rendered in the Prometheus text format on the north port."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable


class Metrics:
    def __init__(self) -> None:
        self.counters: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self.gauges: dict[str, Callable[[], float]] = {}

    def inc(self, name: str, amount: int = 1, **labels: str) -> None:
        self.counters[(name, tuple(sorted(labels.items())))] += amount

    def value(self, name: str, **labels: str) -> int:
        if labels:
            return self.counters[(name, tuple(sorted(labels.items())))]
        return sum(v for (n, _), v in self.counters.items() if n == name)

    def gauge(self, name: str, read: Callable[[], float]) -> None:
        self.gauges[name] = read

    def render(self) -> str:
        lines: list[str] = []
        typed: set[str] = set()
        for (name, labels), value in sorted(self.counters.items()):
            if name not in typed:
                typed.add(name)
                lines.append(f"# TYPE verbund_agents_{name} counter")
            text = ",".join(f'{k}="{v}"' for k, v in labels)
            lines.append(
                f"verbund_agents_{name}{{{text}}} {value}" if text else f"verbund_agents_{name} {value}"
            )
        for name, read in sorted(self.gauges.items()):
            lines.append(f"# TYPE verbund_agents_{name} gauge")
            lines.append(f"verbund_agents_{name} {read()}")
        return "\n".join(lines) + "\n"
