"""The cross-validated benchmark's tables: per protocol, each method's mean over folds, paired intervals against
the best baseline, the rule "chosen on validation", rank agreement of validation and test, and a forest plot.

Figures per fold are top-1 % per sample over the fold's unseen classes, averaged over seeds; paired intervals are
``gazsl.protocols.paired``'s corrected resampled t over the folds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazsl.io import atomic_path
from gazsl.protocols.benchmark import Cell, method_rows
from gazsl.protocols.paired import folds_test_to_train, paired

CHOSEN = "gazsl_chosen"  # per fold and seed, the GAZSL row with the best validation figure


def fold_figures(design: dict, found: dict[Cell, dict], protocol: str, rule: str = "folds",
                 metric: str = "zsl_top1") -> dict[str, dict]:
    """row -> {"test": (J,), "val": (J,)} over the protocol's folds (seed means), with ``rule``'s choices:
    "folds" (the mean over validation folds) or "first_fold" (the first validation fold alone); plus CHOSEN.
    "test" holds the cells' ``metric`` (one of ``gazsl.protocols.benchmark.ROW_KEYS``: top-1 per sample by
    default, ``ausuc`` for the area under the seen-unseen curve)."""
    spec = design["protocols"][protocol]
    folds = [(r, k) for r in range(spec["repeats"]) for k in range(spec["folds"])]
    trainings = [m for m in method_rows(design) if m not in design["baselines"]]
    out = {m: {"test": [], "val": []} for m in [*method_rows(design), CHOSEN]}
    for r, k in folds:
        per_seed = {m: {"test": [], "val": []} for m in out}
        for s in range(design["seeds"]):
            rows = {}
            for method in (*design["baselines"], *design["trainings"]):
                rows.update(found[Cell(protocol, r, k, method, s)]["rows"])
            rows = {m: (row if rule == "folds" else row["first_fold"]) for m, row in rows.items()}
            best = max(trainings, key=lambda m: rows[m]["val_top1_per_class"])  # first listed if tied
            rows[CHOSEN] = rows[best]
            for m in out:
                per_seed[m]["test"].append(rows[m][metric])
                per_seed[m]["val"].append(rows[m]["val_top1_per_class"])
        for m in out:
            for key in ("test", "val"):
                out[m][key].append(float(np.mean(per_seed[m][key])))
    return {m: {key: np.array(v) for key, v in figures.items()} for m, figures in out.items()}


def spearman(figures: dict[str, dict]) -> float:
    from scipy.stats import spearmanr

    methods = [m for m in figures if m != CHOSEN]
    return float(spearmanr([figures[m]["val"].mean() for m in methods],
                           [figures[m]["test"].mean() for m in methods]).statistic)


def test_to_train(found: dict[Cell, dict], protocol: str) -> float:
    """Unseen to seen classes of the protocol's folds (their mean): the overlap correction of the interval."""
    return folds_test_to_train([(len(r["definition"]["unseen_class_ids"]), len(r["definition"]["seen_class_ids"]))
                                for c, r in found.items() if c.protocol == protocol])


def protocol_summary(design: dict, found: dict[Cell, dict], protocol: str) -> dict:
    figures = fold_figures(design, found, protocol)
    first = fold_figures(design, found, protocol, "first_fold")
    ratio = test_to_train(found, protocol)
    best = max(design["baselines"], key=lambda m: figures[m]["test"].mean())
    methods = list(figures)
    pairs = {a: {b: paired(figures[a]["test"], figures[b]["test"], ratio).to_dict() for b in methods if b != a}
             for a in methods}
    cells_here = [r for c, r in found.items() if c.protocol == protocol]
    seconds: dict[str, float] = {}
    for c, r in found.items():
        if c.protocol == protocol:
            seconds[c.method] = seconds.get(c.method, 0.0) + r["seconds"] * r.get("threads", 1)
    return {
        "folds": int(len(figures[best]["test"])), "repeats": design["protocols"][protocol]["repeats"],
        "seeds": design["seeds"], "test_to_train": ratio, "best_baseline": best,
        "methods": {m: {"test_per_fold": figures[m]["test"].tolist(), "val_per_fold": figures[m]["val"].tolist(),
                        "test_mean": float(figures[m]["test"].mean()), "val_mean": float(figures[m]["val"].mean()),
                        "first_fold_test_mean": float(first[m]["test"].mean()),
                        "first_fold_val_mean": float(first[m]["val"].mean())} for m in methods},
        "paired": pairs,
        "versus_best_baseline": {m: pairs[m][best] for m in methods if m != best},
        "rho": {"first_fold": spearman(first), "folds": spearman(figures)},
        "chosen_first_fold_vs_best_baseline": paired(first[CHOSEN]["test"], figures[best]["test"], ratio).to_dict(),
        "cpu_seconds": seconds, "cells": len(cells_here),
        "made_on": sorted({f"{r.get('device', 'cpu')}, torch {r['versions']['torch']}" for r in cells_here}),
    }


def interval(p: dict) -> str:
    return f"{p['mean']:+.1f} [{p['low']:+.1f}, {p['high']:+.1f}]"


def verdict(design: dict, summaries: dict[str, dict]) -> str:
    """Three lines: the pre-registered claim's answer, then the other protocols."""
    rec = design["recommended"]["method"]
    lines = []
    for i, (protocol, s) in enumerate(summaries.items()):
        p = s["versus_best_baseline"][rec]
        answer = ("the generator pays" if p["low"] > 0 else "the generator loses" if p["high"] < 0
                  else "not shown either way")
        lines.append(f"{'**' if i == 0 else ''}{protocol}: {answer}{'**' if i == 0 else ''} — recommended {rec} minus "
                     f"the best baseline ({s['best_baseline']}): {interval(p)} points of top-1, 95 % CI over "
                     f"{p['folds']} folds; {p['wins']} wins / {p['losses']} losses.")
    return "\n".join(f"{line}  " for line in lines)


def protocol_table(design: dict, protocol: str, s: dict) -> str:
    rec, best = design["recommended"]["method"], s["best_baseline"]
    lines = [f"### {protocol}: {s['folds']} folds ({s['repeats']} repeat{'s' * (s['repeats'] > 1)}), "
             f"{s['seeds']} seed{'s' * (s['seeds'] > 1)}, {s['cells']} cells",
             "", f"| method | top-1 % (mean over folds) | per fold | validation top-1 per class % (mean of {design['validation_folds']} folds) | "
             f"Δ vs {best} [95 % CI] | wins / losses | chosen on the first validation fold alone: top-1 % |",
             "|---|---|---|---|---|---|---|"]
    top = max(s["methods"], key=lambda m: s["methods"][m]["val_mean"] if m != "gazsl_chosen" else -1)
    for m, f in s["methods"].items():
        p = s["versus_best_baseline"].get(m)
        label = f"**{m}** (pre-registered)" if m == rec else m
        if m == top:
            label += " (best validation)"
        per_fold = " ".join(f"{v:.1f}" for v in f["test_per_fold"])
        record = f"{p['wins']} / {p['losses']}" if p else "—"
        lines.append(f"| {label} | {f['test_mean']:.1f} | {per_fold} | {f['val_mean']:.1f} | "
                     f"{interval(p) if p else '—'} | {record} | {f['first_fold_test_mean']:.1f} |")
    rho = s["rho"]
    return "\n".join(lines) + (
        f"\n\nRank agreement of validation and test over the {len(s['methods']) - 1} methods (Spearman's rho of their "
        f"mean validation and mean test top-1): first validation fold alone {rho['first_fold']:+.2f}, mean of the "
        f"validation folds {rho['folds']:+.2f}. gazsl_chosen (per fold, the GAZSL row with the best validation figure) "
        f"minus {best} with the first validation fold alone: {interval(s['chosen_first_fold_vs_best_baseline'])}; with "
        f"the mean of the folds: {interval(s['versus_best_baseline']['gazsl_chosen'])}.\n\n"
        f"CPU time (cell seconds x threads): " + ", ".join(f"{m} {v / 60:.0f} min" for m, v in s["cpu_seconds"].items())
        + f"; made on {'; '.join(s['made_on'])}.")


def forest_plot(design: dict, summaries: dict[str, dict], path: Path) -> None:
    """Each method's paired difference to the best baseline with its 95 % interval, one panel per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = design["recommended"]["method"]
    fig, axes = plt.subplots(1, len(summaries), figsize=(5.5 * len(summaries), 4.2), squeeze=False)
    for ax, (protocol, s) in zip(axes[0], summaries.items()):
        methods = list(s["versus_best_baseline"])
        for y, m in enumerate(methods):
            p = s["versus_best_baseline"][m]
            color = "tab:red" if m == rec else "tab:blue" if m.startswith("gazsl") else "tab:gray"
            ax.errorbar(p["mean"], y, xerr=[[p["mean"] - p["low"]], [p["high"] - p["mean"]]], fmt="o", color=color,
                        capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(methods)), [f"{m} *" if m == rec else m for m in methods], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"top-1 minus {s['best_baseline']} (points, 95 % CI)")
        ax.set_title(f"{protocol}: {s['folds']} folds", fontsize=10)
    fig.suptitle("Paired differences to the best baseline (* pre-registered); corrected resampled t", fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
