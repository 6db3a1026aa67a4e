"""A campaign's charts as PNG files: cumulative gains, lift by decile, profit curve (expected,
realised, or both side by side where the outcomes are known)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelry.apps.marketing.curves import Decile, Gains, ProfitCurve

DPI = 110


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers or CI
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def gains_chart(gains: Gains, path: Path, *, expected: bool = False) -> Path:
    """Share of conversions found against share of customers contacted, with the random
    diagonal."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.plot(100 * gains.share_contacted, 100 * gains.share_converted, label="model ranking")
    ax.plot([0, 100], [0, 100], linestyle="--", color="grey", label="random")
    ax.set_xlabel("customers contacted (%)")
    ax.set_ylabel(f"{'expected ' if expected else ''}conversions found (%)")
    ax.set_title("Cumulative gains")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return _save(fig, path)


def lift_chart(deciles: Sequence[Decile], path: Path, *, expected: bool = False) -> Path:
    """Lift of each decile (bars) and the cumulative lift (line); 1 is random."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ranks = list(range(1, len(deciles) + 1))
    ax.bar(ranks, [d.lift for d in deciles], color="tab:blue", alpha=0.8, label="lift")
    cumulative = [d.cumulative_lift for d in deciles]
    ax.plot(ranks, cumulative, "o-", color="tab:orange", label="cumulative")
    ax.axhline(1.0, linestyle="--", color="grey", label="random")
    ax.set_xticks(ranks)
    ax.set_xlabel("decile of customers by score (1 = highest)")
    ax.set_ylabel(f"{'expected ' if expected else ''}lift (rate / overall rate)")
    ax.set_title("Lift by decile")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="upper right")
    return _save(fig, path)


def profit_chart(
    curve: ProfitCurve,
    path: Path,
    *,
    cutoff: int | None = None,
    expected: bool = False,
    realised: ProfitCurve | None = None,
) -> Path:
    """Cumulative profit against the share contacted, the chosen cut-off marked.

    With ``realised`` (the same ranking's profit on customers whose outcome is known,
    e.g. a test split), it is drawn beside ``curve`` (the expected profit), so a gap
    between what the probabilities promised and what the customers did shows.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    label = "contacting down the ranking"
    if realised is not None:
        label = "expected (from the probabilities)"
        ax.plot(100 * realised.share_contacted, realised.profit, label="realised (outcomes)")
    ax.plot(100 * curve.share_contacted, curve.profit, label=label)
    ax.axhline(0.0, color="grey", linewidth=0.8)
    if cutoff is not None:
        share = 100 * float(curve.share_contacted[cutoff])
        profit = float((realised or curve).profit[cutoff])
        ax.axvline(share, linestyle="--", color="tab:red")
        ax.plot([share], [profit], "o", color="tab:red", label=f"chosen: {cutoff:,} contacted")
    ax.set_xlabel("customers contacted (%)")
    ax.set_ylabel("profit" if realised else f"{'expected ' if expected else 'realised '}profit")
    ax.set_title("Profit by share contacted")
    ax.set_xlim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return _save(fig, path)
