"""The cross-validated benchmark's tables: per protocol, each method's mean over folds, paired intervals against
the best baseline, the rule "chosen on validation", rank agreement of validation and test, and a forest plot.

Figures per fold are top-1 % per sample over the fold's unseen classes and GZSL's AUSUC and H, averaged over seeds;
paired intervals are ``gazsl.protocols.paired``'s corrected resampled t over the folds, with the folds' own share of
unseen to seen classes. A design of baselines and plugins alone has no GAZSL row to choose (no ``gazsl_chosen``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazsl.io import atomic_path
from gazsl.protocols.benchmark import Cell, cell_methods, method_rows
from gazsl.protocols.paired import folds_test_to_train, paired

CHOSEN = "gazsl_chosen"  # per fold and seed, the GAZSL row with the best validation figure
# The figures of a fold besides validation top-1: (row key, label, scale to percent).
FIGURES = {"zsl_top1": ("top-1", 1), "ausuc": ("AUSUC", 100), "gzsl_h": ("H", 1)}
GZSL_FIGURES = ("ausuc", "gzsl_h")


def fold_figures(design: dict, found: dict[Cell, dict], protocol: str, rule: str = "folds") -> dict[str, dict]:
    """row -> {"test": (J,), "val": (J,), "ausuc": (J,), "gzsl_h": (J,)} over the protocol's folds (seed means, in
    percent), with ``rule``'s choices: "folds" (the mean over validation folds) or "first_fold" (the first validation
    fold alone); plus CHOSEN where the design trains GAZSL."""
    spec = design["protocols"][protocol]
    folds = [(r, k) for r in range(spec["repeats"]) for k in range(spec["folds"])]
    trainings = [m for m in method_rows(design) if m not in (*design["baselines"], *design.get("methods", {}))]
    keys = {"test": "zsl_top1", "val": "val_top1_per_class", "ausuc": "ausuc", "gzsl_h": "gzsl_h"}
    out = {m: {key: [] for key in keys} for m in [*method_rows(design), *([CHOSEN] if trainings else [])]}
    for r, k in folds:
        per_seed = {m: {key: [] for key in keys} for m in out}
        for s in range(design["seeds"]):
            rows = {}
            for method in cell_methods(design):
                rows.update(found[Cell(protocol, r, k, method, s)]["rows"])
            rows = {m: (row if rule == "folds" else row["first_fold"]) for m, row in rows.items()}
            if trainings:
                rows[CHOSEN] = rows[max(trainings, key=lambda m: rows[m]["val_top1_per_class"])]  # first if tied
            for m in out:
                for key, row_key in keys.items():
                    per_seed[m][key].append(rows[m][row_key] * FIGURES.get(row_key, (None, 1))[1])
        for m in out:
            for key in keys:
                out[m][key].append(float(np.mean(per_seed[m][key])))
    return {m: {key: np.array(v) for key, v in figures.items()} for m, figures in out.items()}


def reference_rows(design: dict) -> list[str]:
    """The rows "the best baseline" is chosen among: the baselines, else (a design of plugins alone) its methods."""
    return list(design["baselines"]) or list(design.get("methods", {}))


def spearman(figures: dict[str, dict]) -> float | None:
    """Spearman's rho of the rows' mean validation and mean test top-1 (None with fewer than 3 rows)."""
    from scipy.stats import spearmanr

    methods = [m for m in figures if m != CHOSEN]
    if len(methods) < 3:
        return None
    return float(spearmanr([figures[m]["val"].mean() for m in methods],
                           [figures[m]["test"].mean() for m in methods]).statistic)


def test_to_train(found: dict[Cell, dict], protocol: str) -> float:
    """Unseen to seen classes of the protocol's folds (their mean): the overlap correction of the interval."""
    return folds_test_to_train([(len(r["definition"]["unseen_class_ids"]), len(r["definition"]["seen_class_ids"]))
                                for c, r in found.items() if c.protocol == protocol])


def gzsl_summary(design: dict, figures: dict[str, dict], key: str, ratio: float) -> dict:
    """A GZSL figure's rows: per fold and mean, and each row's paired difference to the best reference row by that
    figure's mean (the strictest comparison)."""
    best = max(reference_rows(design), key=lambda m: figures[m][key].mean())
    return {"best_baseline": best,
            "methods": {m: {"test_per_fold": f[key].tolist(), "test_mean": float(f[key].mean())}
                        for m, f in figures.items()},
            "versus_best_baseline": {m: paired(f[key], figures[best][key], ratio).to_dict()
                                     for m, f in figures.items() if m != best}}


def protocol_summary(design: dict, found: dict[Cell, dict], protocol: str) -> dict:
    figures = fold_figures(design, found, protocol)
    first = fold_figures(design, found, protocol, "first_fold")
    ratio = test_to_train(found, protocol)
    best = max(reference_rows(design), key=lambda m: figures[m]["test"].mean())
    methods = list(figures)
    pairs = {a: {b: paired(figures[a]["test"], figures[b]["test"], ratio).to_dict() for b in methods if b != a}
             for a in methods}
    cells_here = [r for c, r in found.items() if c.protocol == protocol]
    seconds: dict[str, float] = {}
    for c, r in found.items():
        if c.protocol == protocol:
            seconds[c.method] = seconds.get(c.method, 0.0) + r["seconds"] * r.get("threads", 1)
    plugins = {c.method: r["definition"]["plugin"] for c, r in found.items()
               if c.protocol == protocol and "plugin" in r["definition"]}
    return {
        "folds": int(len(figures[best]["test"])), "repeats": design["protocols"][protocol]["repeats"],
        "seeds": design["seeds"], "test_to_train": ratio, "best_baseline": best,
        "methods": {m: {"test_per_fold": figures[m]["test"].tolist(), "val_per_fold": figures[m]["val"].tolist(),
                        "test_mean": float(figures[m]["test"].mean()), "val_mean": float(figures[m]["val"].mean()),
                        "first_fold_test_mean": float(first[m]["test"].mean()),
                        "first_fold_val_mean": float(first[m]["val"].mean())} for m in methods},
        "paired": pairs,
        "versus_best_baseline": {m: pairs[m][best] for m in methods if m != best},
        "gzsl": {key: gzsl_summary(design, figures, key, ratio) for key in GZSL_FIGURES},
        "rho": {"first_fold": spearman(first), "folds": spearman(figures)},
        **({"chosen_first_fold_vs_best_baseline": paired(first[CHOSEN]["test"], figures[best]["test"], ratio).to_dict()}
           if CHOSEN in figures else {}),
        **({"plugins": plugins} if plugins else {}),
        "cpu_seconds": seconds, "cells": len(cells_here),
        # CPUs of different makes round float32 differently: a protocol's rows say which made them
        "made_on": sorted({f"{r.get('device', 'cpu')}"
                           + (f" on {r['cpu']}" if r.get("cpu") and r.get("device", "cpu").startswith("cpu") else "")
                           + f", torch {r['versions']['torch']}" for r in cells_here}),
    }


def interval(p: dict) -> str:
    return f"{p['mean']:+.1f} [{p['low']:+.1f}, {p['high']:+.1f}]"


def figure_comparison(s: dict, key: str) -> tuple[str, dict | None]:
    """(the best baseline, the recommended-vs-it comparisons) of one figure in a protocol's summary."""
    return (s["best_baseline"], s["versus_best_baseline"]) if key == "zsl_top1" else (
        s["gzsl"][key]["best_baseline"], s["gzsl"][key]["versus_best_baseline"])


def verdict(design: dict, summaries: dict[str, dict]) -> str:
    """One line per protocol and claim figure: the pre-registered claim's answer first, then the others."""
    rec = design["recommended"]["method"]
    generator = rec not in (*design["baselines"], *design.get("methods", {}))
    lines = []
    for i, (protocol, s) in enumerate(summaries.items()):
        for j, key in enumerate(design.get("claim_figures", ["zsl_top1"])):
            best, versus = figure_comparison(s, key)
            label = FIGURES[key][0]
            bold = "**" if i == j == 0 else ""
            if rec == best:
                lines.append(f"{bold}{protocol}: {rec} is the best baseline itself{bold} ({label}).")
                continue
            p = versus[rec]
            wins, loses = ("the generator pays", "the generator loses") if generator else (f"{rec} wins", f"{rec} loses")
            answer = wins if p["low"] > 0 else loses if p["high"] < 0 else "not shown either way"
            lines.append(f"{bold}{protocol}: {answer}{bold} — recommended {rec} minus the best baseline ({best}): "
                         f"{interval(p)} points of {label}, 95 % CI over {p['folds']} folds; {p['wins']} wins / "
                         f"{p['losses']} losses.")
    return "\n".join(f"{line}  " for line in lines)


def protocol_table(design: dict, protocol: str, s: dict) -> str:
    rec, best = design["recommended"]["method"], s["best_baseline"]
    lines = [f"### {protocol}: {s['folds']} folds ({s['repeats']} repeat{'s' * (s['repeats'] > 1)}), "
             f"{s['seeds']} seed{'s' * (s['seeds'] > 1)}, {s['cells']} cells",
             "", f"| method | top-1 % (mean over folds) | per fold | validation top-1 per class % (mean of {design['validation_folds']} folds) | "
             f"Δ vs {best} [95 % CI] | wins / losses | chosen on the first validation fold alone: top-1 % |",
             "|---|---|---|---|---|---|---|"]
    top = max(s["methods"], key=lambda m: s["methods"][m]["val_mean"] if m != CHOSEN else -1)
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
    rank = ", ".join(f"{what} {'n/a (fewer than 3 rows)' if rho[key] is None else format(rho[key], '+.2f')}"
                     for what, key in (("first validation fold alone", "first_fold"),
                                       ("mean of the validation folds", "folds")))
    chosen = (f" gazsl_chosen (per fold, the GAZSL row with the best validation figure) minus {best} with the first "
              f"validation fold alone: {interval(s['chosen_first_fold_vs_best_baseline'])}; with the mean of the folds: "
              f"{interval(s['versus_best_baseline'][CHOSEN])}." if CHOSEN in s["methods"] else "")
    plugins = "".join(f" {m}: `{p['import']}` version {p['version']}." for m, p in s.get("plugins", {}).items())
    return "\n".join(lines) + (
        f"\n\nRank agreement of validation and test over the {len([m for m in s['methods'] if m != CHOSEN])} methods "
        f"(Spearman's rho of their mean validation and mean test top-1): {rank}.{chosen}{plugins}\n\n"
        + (gzsl_table(s) + "\n\n" if "gzsl" in s else "")
        + "CPU time (cell seconds x threads): " + ", ".join(f"{m} {v / 60:.0f} min" for m, v in s["cpu_seconds"].items())
        + f"; made on {'; '.join(s['made_on'])}.")


def gzsl_table(s: dict) -> str:
    """GZSL figures of every row, each with its paired difference to the best baseline by that figure."""
    head = [f"{FIGURES[k][0]} % | Δ vs {s['gzsl'][k]['best_baseline']} [95 % CI]" for k in GZSL_FIGURES]
    lines = ["GZSL (held-out images of seen classes and the unseen classes; AUSUC of the exact seen-unseen curve, H at "
             "the calibration chosen on validation classes), mean over folds, each against the baseline best by that "
             "figure:", "", "| method | " + " | ".join(head) + " |", "|---" * (1 + 2 * len(GZSL_FIGURES)) + "|"]
    for m in s["methods"]:
        cells = []
        for k in GZSL_FIGURES:
            g = s["gzsl"][k]
            p = g["versus_best_baseline"].get(m)
            cells += [f"{g['methods'][m]['test_mean']:.1f}", interval(p) if p else "—"]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def forest_plot(design: dict, summaries: dict[str, dict], path: Path) -> None:
    """Each method's paired difference to the best baseline with its 95 % interval: a row of panels per protocol,
    one per figure (top-1, and AUSUC and H where the summaries hold them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rec = design["recommended"]["method"]
    keys = ["zsl_top1", *(GZSL_FIGURES if all("gzsl" in s for s in summaries.values()) else ())]
    fig, axes = plt.subplots(len(summaries), len(keys), figsize=(5.5 * len(keys), 4.2 * len(summaries)),
                             squeeze=False)
    for row, (protocol, s) in zip(axes, summaries.items()):
        for ax, key in zip(row, keys):
            best, versus = figure_comparison(s, key)
            methods = list(versus)
            for y, m in enumerate(methods):
                p = versus[m]
                color = "tab:red" if m == rec else "tab:blue" if m.startswith("gazsl") else "tab:gray"
                ax.errorbar(p["mean"], y, xerr=[[p["mean"] - p["low"]], [p["high"] - p["mean"]]], fmt="o",
                            color=color, capsize=3)
            ax.axvline(0, color="black", lw=0.8)
            ax.set_yticks(range(len(methods)), [f"{m} *" if m == rec else m for m in methods], fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel(f"{FIGURES[key][0]} minus {best} (points, 95 % CI)")
            ax.set_title(f"{protocol}: {s['folds']} folds, {FIGURES[key][0]}", fontsize=10)
    fig.suptitle("Paired differences to the best baseline (* pre-registered); corrected resampled t", fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
