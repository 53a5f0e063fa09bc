"""Rich tables of an :class:`EvalResult` (pure: they build tables, the caller prints)."""
from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from pefomed.errors import PefomedError
from pefomed.evaluation.result import EvalResult


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def metrics_table(result: EvalResult, *, title: str | None = None) -> Table:
    """One row per protocol: value and 95% CI in percent, and the number of questions scored."""
    table = Table(title=title or f"Med-VQA scores (n={result.n})")
    table.add_column("protocol", style="bold")
    table.add_column("value %", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    for name, m in result.metrics.items():
        ci = m.get("ci95")
        table.add_row(name, _pct(m["value"]), "-" if ci is None else f"[{_pct(ci[0])}, {_pct(ci[1])}]",
                      str(m["n"]))
    return table


def breakdown_table(result: EvalResult, field: str, *, protocols: Sequence[str] | None = None,
                    title: str | None = None) -> Table:
    """One row per group of ``field`` (e.g. "organ"): its size and each protocol's value in percent.

    A cell reads ``value (n)`` where n is how many of the group's questions the protocol scores.
    """
    if field not in result.breakdown:
        raise PefomedError(f"no breakdown by {field!r}; available: {', '.join(result.breakdown) or 'none'} "
                           "(a field appears when some record fills it)")
    names = list(protocols) if protocols is not None else list(result.metrics)
    unknown = [n for n in names if n not in result.metrics]
    if unknown:
        raise PefomedError(f"protocols {unknown} were not scored; scored: {', '.join(result.metrics)}")
    table = Table(title=title or f"by {field}")
    table.add_column(field, style="bold")
    table.add_column("n", justify="right")
    for name in names:
        table.add_column(f"{name} %", justify="right")
    groups = result.breakdown[field]
    for key in sorted(groups, key=lambda k: (-groups[k]["n"], k)):
        cell = groups[key]
        values = [cell["metrics"][n] for n in names]
        table.add_row(key, str(cell["n"]),
                      *(f"{_pct(v['value'])} ({v['n']})" if v["n"] else "-" for v in values))
    return table
