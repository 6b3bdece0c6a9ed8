"""The $/Mtok-against-utilization chart as a PNG, for a slide or a finance memo.

One picture answers the question finance asks — "at what utilization are we cheaper than the
API?" — so the CLI draws it from the same `curve_report` the portal's chart uses. Matplotlib
is imported only here and only when a plot is asked for, with the Agg backend: no display,
and the CLI stays quick to start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_curve(curve: dict[str, Any], path: Path) -> None:
    """Write `curve` (report.curve_report) as a PNG chart to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    us = [100.0 * u for u in curve["utilizations"]]
    fig, ax = plt.subplots(figsize=(13, 6), dpi=120)
    try:
        colors: dict[str, Any] = {}
        for name, values in curve["curves"].items():
            blended = name == "blended"
            (line,) = ax.plot(
                us,
                values,
                linewidth=2.5 if blended else 1.2,
                linestyle="-" if blended else "--",
                label="on-prem, whole mix" if blended else f"on-prem, {name}",
            )
            colors[name] = line.get_color()
        for api in curve["apis"]:
            target = api["model_class"] or "blended"
            color = colors.get(target, "black")
            price = api["api_price_per_mtok"]
            label = f"{api['api']} (${price:.3g}/Mtok"
            label += f", vs {api['model_class']})" if api["model_class"] else ")"
            ax.axhline(price, color=color, linestyle=":", linewidth=1.2, label=label)
            if api["breakeven_utilization"] is not None:
                u = 100.0 * api["breakeven_utilization"]
                ax.plot([u], [price], marker="o", color=color, markersize=7)
                ax.annotate(
                    f"{u:.0f}%", (u, price), textcoords="offset points", xytext=(5, 5), fontsize=8
                )
        ax.axvline(
            100.0 * curve["utilization"], color="grey", linewidth=1, label="scenario utilization"
        )
        ax.axvspan(
            100.0 * curve["practical_ceiling"],
            100.0,
            color="grey",
            alpha=0.12,
            label="above the practical ceiling",
        )
        ax.set_yscale("log")
        ax.set_xlim(0, 100)
        ax.set_xlabel("utilization (% of the year at rated throughput)")
        ax.set_ylabel("$ per million tokens (log scale)")
        ax.set_title(f"Berth tokenomics: {curve['scenario']} — cost per million tokens")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
