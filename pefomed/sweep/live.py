"""The live terminal view of a running sweep: progress, the trial running, the front so far."""
from __future__ import annotations

import time
from typing import Any

from pefomed.sweep.pareto import frontier_records


def trial_line(record: dict[str, Any]) -> str:
    """One line for a finished trial: its score and cost, or why it failed."""
    obj = record.get("objectives") or {}
    head = f"trial {record['trial']:>3} {record.get('label')}"
    if record.get("status") == "complete":
        return (f"{head}: {obj['accuracy']['protocol']} {obj['accuracy']['value']:.3f}, "
                f"{obj['cost']['name']} {obj['cost']['value']:.4g}")
    return f"{head}: FAILED ({record.get('reason')})"


class LiveDisplay:
    """A rich ``Live`` panel the engine updates through start/progress/trial_*/stop."""

    def __init__(self, console: Any = None, max_rows: int = 12) -> None:
        from rich.console import Console

        self.console = console or Console()
        self.max_rows = max_rows
        self._live: Any = None
        self._spec: Any = None
        self._n: int | None = None
        self._counts: dict[str, int] = {}
        self._current = ""
        self._trials: list[dict[str, Any]] = []
        self._last: list[str] = []
        self._t0 = time.monotonic()

    def start(self, spec: Any, n_trials: int | None, records: Any) -> None:
        from rich.live import Live

        self._spec, self._n, self._t0 = spec, n_trials, time.monotonic()
        self._trials = [r for r in records.trials() if r.get("study") == spec.study_name]
        self._live = Live(self._render(), console=self.console, refresh_per_second=2, transient=False)
        self._live.start()

    def progress(self, counts: dict[str, int]) -> None:
        self._counts = counts
        self._refresh()

    def trial_started(self, number: int, config: Any) -> None:
        lr = f", lr={config.lr:.2e}" if config.lr is not None else ""
        settings = ", ".join(f"{k}={v}" for k, v in sorted(config.settings.items()))
        self._current = f"trial {number}: {config.label} ({settings}{lr})"
        self._refresh()

    def trial_finished(self, record: dict[str, Any], trials: list[dict[str, Any]]) -> None:
        self._trials = [r for r in trials if r.get("study") == record.get("study")]
        self._last = ([trial_line(record)] + self._last)[:4]
        self._current = ""
        self._refresh()

    def stop(self) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None

    def note(self, message: str) -> None:
        """A one-off line (after the live panel, e.g. the final report-split scoring)."""
        self.console.print(message, style="dim", highlight=False)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        from pefomed.sweep.report import fmt_settings

        c = self._counts
        total = f"/{self._n}" if self._n is not None else ""
        elapsed = time.monotonic() - self._t0
        head = Text(f"sweep {self._spec.study_name if self._spec else ''}: {c.get('finished', 0)}{total} "
                    f"finished, {c.get('running', 0)} running, {c.get('waiting', 0)} queued; "
                    f"{elapsed:.0f} s", style="bold")
        table = Table(title="best-so-far Pareto front", expand=False)
        for col in ("trial", "method", "settings", "accuracy", "cost"):
            table.add_column(col)
        for r in frontier_records(self._trials)[: self.max_rows]:
            obj = r["objectives"]
            table.add_row(str(r["trial"]), str(r.get("label")), fmt_settings(r)[:60],
                          f"{obj['accuracy']['value']:.3f}", f"{obj['cost']['value']:.3g}")
        lines = [head]
        if self._current:
            lines.append(Text("running " + self._current, style="cyan"))
        lines += [Text(x, style="dim") for x in self._last]
        return Group(*lines, table)
