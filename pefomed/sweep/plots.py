"""Accuracy-vs-cost plots of a sweep: a PNG (matplotlib, Agg) and an offline HTML (plotly).

One colour per method; frontier trials drawn solid with a black edge and joined by a step line,
dominated trials faded. The cost axis goes logarithmic (symlog when some trial costs 0) once
costs span more than two decades.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pefomed.sweep.report import Summary, fmt_metric, fmt_settings

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173")
FADED_ALPHA = 0.25


def _points(s: Summary) -> list[tuple[dict[str, Any], float, float]]:
    out = []
    for r in s.trials:
        obj = r.get("objectives") or {}
        acc, cost = (obj.get("accuracy") or {}).get("value"), (obj.get("cost") or {}).get("value")
        if r.get("status") == "complete" and acc is not None and cost is not None:
            out.append((r, float(cost), float(acc)))
    return out


def method_colours(s: Summary) -> dict[str, str]:
    labels = sorted({str(r.get("label")) for r in s.trials})
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}


def cost_scale(costs: list[float]) -> str:
    """"linear", "log" or "symlog" (log with a zero)."""
    positive = [c for c in costs if c > 0]
    if len(positive) < 2 or max(positive) / min(positive) <= 100:
        return "linear"
    return "symlog" if len(positive) < len(costs) else "log"


def _front_xy(s: Summary) -> tuple[list[float], list[float]]:
    xs = [r["objectives"]["cost"]["value"] for r in s.frontier]
    ys = [r["objectives"]["accuracy"]["value"] for r in s.frontier]
    return xs, ys


def write_png(s: Summary, path: str | Path) -> Path:
    """The static plot (matplotlib with the Agg backend, so no display is needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    pts = _points(s)
    colours = method_colours(s)
    front = s.frontier_numbers
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for r, cost, acc in pts:
        on = r["trial"] in front
        ax.scatter([cost], [acc], s=60 if on else 36, color=colours[str(r.get("label"))],
                   alpha=1.0 if on else FADED_ALPHA, edgecolors="black" if on else "none", linewidths=0.8,
                   zorder=3 if on else 2)
    shown = sorted({str(r.get("label")) for r, _, _ in pts})
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[m], label=m) for m in shown]
    xs, ys = _front_xy(s)
    if xs:
        ax.plot(xs, ys, drawstyle="steps-post", color="black", linewidth=1.2, alpha=0.8, zorder=1)
        handles.append(Line2D([], [], color="black", label="Pareto frontier"))
    scale = cost_scale([c for _, c, _ in pts])
    if scale == "symlog":
        ax.set_xscale("symlog", linthresh=min(c for _, c, _ in pts if c > 0))
    elif scale == "log":
        ax.set_xscale("log")
    ax.set_xlabel(f"{s.cost_name} (lower is better)")
    ax.set_ylabel(f"{s.protocol} (higher is better)")
    ax.set_title(f"{s.study}: {s.model} on {s.dataset} (hypervolume {s.hypervolume:.3f})")
    ax.grid(True, alpha=0.3)
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="best", title="faded: dominated", title_fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_html(s: Summary, path: str | Path) -> Path:
    """The interactive plot (plotly, with plotly.js embedded so it opens offline)."""
    import plotly.graph_objects as go

    pts = _points(s)
    colours = method_colours(s)
    front = s.frontier_numbers
    fig = go.Figure()
    for label, colour in colours.items():
        mine = [(r, c, a) for r, c, a in pts if str(r.get("label")) == label]
        if not mine:
            continue
        fig.add_trace(go.Scatter(
            x=[c for _, c, _ in mine], y=[a for _, _, a in mine], mode="markers", name=label,
            marker={"color": colour, "size": [12 if r["trial"] in front else 8 for r, _, _ in mine],
                    "opacity": [1.0 if r["trial"] in front else FADED_ALPHA for r, _, _ in mine],
                    "line": {"color": "black", "width": [1.5 if r["trial"] in front else 0 for r, _, _ in mine]}},
            text=[_hover(s, r) for r, _, _ in mine], hoverinfo="text",
        ))
    xs, ys = _front_xy(s)
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"shape": "hv", "color": "black"},
                                 name="Pareto frontier", hoverinfo="skip"))
    scale = cost_scale([c for _, c, _ in pts])
    fig.update_layout(title=f"{s.study}: {s.model} on {s.dataset} (hypervolume {s.hypervolume:.3f})",
                      xaxis_title=f"{s.cost_name} (lower is better)",
                      yaxis_title=f"{s.protocol} (higher is better)", template="plotly_white",
                      xaxis_type="log" if scale == "log" else "linear")
    path = Path(path)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path


def _hover(s: Summary, r: dict[str, Any]) -> str:
    lines = [f"trial {r['trial']}: {r.get('label')}", fmt_settings(r),
             f"{s.protocol}: {fmt_metric((r.get('metrics') or {}).get(s.protocol))}",
             f"{s.cost_name}: {r['objectives']['cost']['value']:.4g}"]
    fin = s.finals.get(r["trial"])
    if fin and fin.get("status") == "complete":
        lines.append(f"{fin.get('split')}: {fmt_metric((fin.get('metrics') or {}).get(s.protocol))}")
    return "<br>".join(lines)
