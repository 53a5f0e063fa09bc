"""Rich tables of an :class:`EvalResult` (pure: they build tables, the caller prints)."""
from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from pefomed.errors import PefomedError
from pefomed.evaluation.protocols import FAMILIES, PROTOCOLS
from pefomed.evaluation.result import EvalResult


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _majority(m: dict, fmt=None) -> str:
    """``"55.2 (no)"``: the majority-answer baseline beside a closed accuracy ("" otherwise)."""
    maj = m.get("majority")
    if not maj:
        return ""
    if maj["value"] is None:
        return f"- ({maj['answer']})"
    return f"{_pct(maj['value']) if fmt is None else fmt(maj['value'])} ({maj['answer']})"


def own_protocols(result: EvalResult) -> list[str]:
    """The scored protocols that belong to no peer family (pefomed's own), in scoring order."""
    return [n for n in result.metrics if not (n in PROTOCOLS and PROTOCOLS.get(n).family)]


def breakdown_protocols(result: EvalResult) -> list[str]:
    """What breakdown tables show: pefomed's own scored protocols, else each family's headline."""
    own = own_protocols(result)
    if own:
        return own
    heads = [m for f in scored_families(result) for m in FAMILIES.get(f).headline if m in result.metrics]
    return heads or list(result.metrics)


def scored_families(result: EvalResult) -> list[str]:
    """The families with at least one scored member, in registry order."""
    scored = {PROTOCOLS.get(n).family for n in result.metrics if n in PROTOCOLS}
    return [f for f in FAMILIES.names() if f in scored]


def metrics_table(result: EvalResult, *, title: str | None = None,
                  protocols: Sequence[str] | None = None) -> Table:
    """One row per protocol: value and 95% CI in percent, the number of questions scored, and for
    a closed protocol the majority-answer baseline (its score for the most common reference)."""
    names = list(result.metrics) if protocols is None else list(protocols)
    table = Table(title=title or f"Med-VQA scores (n={result.n})")
    table.add_column("protocol", style="bold")
    table.add_column("value %", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    table.add_column("majority %", justify="right")
    for name in names:
        m = result.metrics[name]
        ci = m.get("ci95")
        table.add_row(name, _pct(m["value"]), "-" if ci is None else f"[{_pct(ci[0])}, {_pct(ci[1])}]",
                      str(m["n"]), _majority(m))
    return table


def family_table(result: EvalResult, family: str, *, title: str | None = None) -> Table:
    """A peer family's scored members under the labels its script prints, with the values printed
    as it prints them (its own rounding), plus n, pefomed's CI and the majority baseline."""
    if family not in FAMILIES:
        raise PefomedError(f"no protocol family {family!r}; known: {', '.join(FAMILIES.names())}")
    fam = FAMILIES.get(family)
    names = [n for n in PROTOCOLS.names() if PROTOCOLS.get(n).family == family]
    names = [n for n in fam.members if n in names] + [n for n in names if n not in fam.members]
    names = [n for n in names if n in result.metrics]
    table = Table(title=title or f"{family}: {fam.source}")
    table.add_column("peer prints", style="bold")
    table.add_column("value", justify="right")
    table.add_column("n", justify="right")
    table.add_column("95% CI %", justify="right")
    table.add_column("majority", justify="right")
    table.add_column("protocol")

    def peer(value: float | None, n: int, total: float | None = None) -> str:
        if value is None or n == 0:
            return "-"
        return fam.format_value(value * n if total is None else total, n)

    for name in names:
        m = result.metrics[name]
        ci = m.get("ci95")
        table.add_row(PROTOCOLS.get(name).label or name, peer(m["value"], m["n"], m.get("total")),
                      str(m["n"]), "-" if ci is None else f"[{_pct(ci[0])}, {_pct(ci[1])}]",
                      _majority(m, lambda v, n=m["n"]: peer(v, n)), name)
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
