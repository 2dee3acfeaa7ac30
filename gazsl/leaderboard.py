"""One table of every method and generator switch, all under the honest protocol.

    python -m gazsl.leaderboard --splits cub100_easy cub100_hard aviary_easy aviary_hard --seeds 3 --jobs 4

Each split uses its experiment config (experiments/configs/<split>.json, as
``gazsl.reproduce``); a GAZSL variant adds its overrides (``METHODS``) to it.
Plain GAZSL shares its runs with ``gazsl.reproduce`` (runs/reproduce/<split>/honest/);
the variants train under runs/reproduce/methods/<method>/. Finished runs are
reused. Writes experiments/results/leaderboard.md and leaderboard.json.

The baselines follow the same protocol as GAZSL (``gazsl.protocols.protocol``): their
hyper-parameters (gazsl.scoring.baselines.candidates) and GZSL calibration are chosen
on the validation classes, with a model fitted on the seen classes minus those;
the reported model is then refitted on every seen training image (held-out seen
images excluded) and scored once on the unseen classes (ZSL) and on held-out
seen + unseen images (GZSL: AUSUC of the exact curve, H at the chosen calibration).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gazsl.scoring import baselines
from gazsl.images.datasets import open_store
from gazsl.io import GazslError, write_json_atomic, write_text_atomic
from gazsl.protocols.protocol import choose_and_refit
from gazsl.protocols.cells import CONFIG_DIR, RUNS_DIR, load_cell, read_cell, run_cell, run_cells
from gazsl.protocols.tables import environments, mean_std, parse_table_args, table_parser

# Weights fixed a priori (nothing tuned here): the defaults of the authors' code,
# CIZSL's --creativity_weight 0.1 and CANZSL's --cyclelambda 10.
CREATIVITY = {"creativity_weight": 0.1}
CYCLE = {"cycle_weight": 10.0}
SOFTMAX = {"classifier": "softmax"}
PIVOT = {"classifier": "pivot"}


@dataclass
class Method:
    label: str
    baseline: str | None = None  # a gazsl.scoring.baselines.BASELINES key; else GAZSL with ``overrides``
    overrides: dict = field(default_factory=dict)


METHODS: dict[str, Method] = {
    "eszsl": Method("ESZSL", baseline="eszsl"),
    "prototype": Method("Prototype regression", baseline="prototype"),
    "wac_linear": Method("WAC-linear", baseline="wac_linear"),
    "gazsl": Method("GAZSL (kNN)"),
    "gazsl_softmax": Method("GAZSL + softmax classifier", overrides=SOFTMAX),
    "gazsl_pivot": Method("GAZSL + pivot classifier", overrides=PIVOT),
    "gazsl_creativity": Method("GAZSL + creativity", overrides=CREATIVITY),
    "gazsl_cycle": Method("GAZSL + cycle", overrides=CYCLE),
    "gazsl_creativity_cycle": Method("GAZSL + creativity + cycle", overrides={**CREATIVITY, **CYCLE}),
    "gazsl_creativity_cycle_softmax": Method("GAZSL + creativity + cycle + softmax",
                                             overrides={**CREATIVITY, **CYCLE, **SOFTMAX}),
    "gazsl_cycle_pivot": Method("GAZSL + cycle + pivot classifier", overrides={**CYCLE, **PIVOT}),
}

FIGURES = [  # (metrics key, title, scale)
    ("zsl_top1", "ZSL top-1 % (per sample, unseen classes)", 1),
    ("ausuc", "GZSL AUSUC % (area under the seen-unseen curve of mean per-class accuracies)", 100),
    ("gzsl_h", "GZSL H % (of mean per-class accuracies, at the calibration chosen on validation classes)", 1),
    # what a user may choose a method by without touching unseen classes
    ("val_top1_per_class", "Validation top-1 % (per class, validation classes, at the setting they selected)", 1),
]


def method_runs(runs_dir: Path, method: str) -> Path:
    """Plain GAZSL is the reproduce table's honest run; the other methods get their own folder."""
    return runs_dir if method == "gazsl" else runs_dir / "methods" / method


def run_method(split: str, method: str, seed: int, runs_dir: Path = RUNS_DIR, config_dir: Path = CONFIG_DIR,
               threads: int | None = None) -> dict:
    """Honest-protocol metrics of one (split, method, seed) cell; a ``gazsl.protocols.cells.run_cells`` runner."""
    if method not in METHODS:
        raise GazslError(f"unknown method '{method}' (available: {', '.join(METHODS)})")
    spec = METHODS[method]
    if spec.baseline is None:
        return run_cell(split, "honest", seed, method_runs(runs_dir, method), config_dir, threads, spec.overrides)
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    with threadpool_limits(threads):  # numpy's BLAS: as many threads as the cell's share of the cores
        metrics = baseline_metrics(split, spec.baseline, seed, config_dir)
    write_json_atomic(method_runs(runs_dir, method) / split / "honest" / f"seed{seed}" / "metrics.json", metrics)
    return metrics


def baseline_metrics(split_name: str, name: str, seed: int, config_dir: Path = CONFIG_DIR) -> dict:
    """A baseline under the honest protocol, on the split's store and text vectors (see the module docstring)."""
    _, config, store_path = load_cell(split_name, config_dir)
    store = open_store(split_name, store_path)
    extra = {"random_state": seed} if name == "wac_linear" else {}
    # the grid's settings, or the one gazsl.tune chose on the same validation classes where the split's config holds it
    candidates = tuned_candidates(split_name, name, config_dir) or baselines.candidates(name)
    chosen = choose_and_refit(lambda params: baselines.BASELINES[name](**params, **extra), candidates,
                              store.text(config.text).vectors, store, split_name)
    final = chosen.final
    return {
        "split": split_name, "seed": seed, "protocol": "honest", "method": name, "text": config.text,
        "gzsl_classifier": name,  # its own scores
        **{k: final[k] for k in ("zsl_top1", "zsl_top1_per_class", "ausuc", "gzsl_seen", "gzsl_unseen", "gzsl_h",
                                 "calibration")},
        "params": chosen.params, "val_top1_per_class": chosen.validation["val_top1_per_class"],
    }


def tuned_candidates(split: str, baseline: str, config_dir: Path) -> list[dict] | None:
    """[the setting gazsl.tune chose for ``baseline``] if the split's experiment config records one (--best-config)."""
    tuned = read_cell(split, config_dir).get("tuned", {}).get(baseline)
    if tuned is None:
        return None
    if not isinstance(tuned, dict) or not isinstance(tuned.get("params"), dict):
        raise GazslError(f"{config_dir / f'{split}.json'} [tuned/{baseline}]: expected an object with 'params', "
                         "as gazsl.tune --best-config writes")
    return [tuned["params"]]


GZSL_FIGURES = ("ausuc", "gzsl_h")


def tables(results: dict[tuple, dict], splits: list[str], methods: list[str], seeds: int) -> str:
    """One markdown table per figure: rows methods, columns splits, mean ± std over seeds; best mean in bold.

    A GZSL table names, per method, the classifier whose scores its figures calibrate.
    """
    parts = []
    for key, title, scale in FIGURES:
        gzsl = key in GZSL_FIGURES
        means = {(m, s): np.mean([results[(s, m, k)][key] * scale for k in range(seeds)]) for m in methods for s in splits}
        best = {s: max(means[(m, s)] for m in methods) for s in splits}
        head = ["method", *(["GZSL classifier"] if gzsl else []), *splits]
        lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for m in methods:
            cells = []
            if gzsl:
                cells.append(", ".join(sorted({results[(s, m, k)]["gzsl_classifier"] for s in splits for k in range(seeds)})))
            for s in splits:
                cell = mean_std([results[(s, m, k)][key] * scale for k in range(seeds)])
                cells.append(f"**{cell}**" if means[(m, s)] == best[s] else cell)
            lines.append(f"| {METHODS[m].label} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def made_on(results: dict[tuple, dict]) -> str:
    gazsl_runs = [m for (_, method, _), m in results.items() if not METHODS[method].baseline]
    baselines_used = len(gazsl_runs) < len(results)
    return " ".join(([f"GAZSL cells made on: {environments(gazsl_runs)}."] if gazsl_runs else [])
                    + (["Baselines: numpy on the CPU."] if baselines_used else []))


def describe(methods: list[str], splits: list[str], config_dir: Path) -> str:
    notes = {s: read_cell(s, config_dir).get("note") for s in splits}
    lines = [f"- Config of `{s}`: {note}" for s, note in notes.items() if note]
    for m in methods:
        spec = METHODS[m]
        if spec.baseline:
            grid = ", ".join(f"{k} in {list(v)}" for k, v in {**baselines.PARAM_GRIDS[spec.baseline],
                                                               "feature_norm": baselines.FEATURE_NORMS}.items())
            tuned = [s for s in splits if tuned_candidates(s, spec.baseline, config_dir)]
            lines.append(f"- {spec.label}: `gazsl.scoring.baselines`, chosen on validation classes among {grid}"
                         + (f"; on {', '.join(tuned)} the setting gazsl.tune chose there (see the config)" if tuned else ""))
        else:
            settings = ", ".join(f"`{k}={v}`" for k, v in spec.overrides.items()) or "the split's config as is"
            lines.append(f"- {spec.label}: {settings}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = table_parser("gazsl.leaderboard", __doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    args, command = parse_table_args(parser, argv)
    cells = [(split, m, seed) for m in args.methods for split in args.splits for seed in range(args.seeds)]
    results = run_cells(cells, args.runs, args.configs, args.jobs, run=run_method)
    text = tables(results, args.splits, args.methods, args.seeds)
    write_json_atomic(args.results / "leaderboard.json",
                      {"command": command, "cells": [{**results[c], "method": c[1]} for c in cells]})
    write_text_atomic(args.results / "leaderboard.md", (
        f"# Leaderboard: honest protocol\n\nMade by:\n\n```bash\n{command}\n```\n\n"
        f"Mean ± std over seeds 0..{args.seeds - 1}; each split's experiment config (`experiments/configs/<split>.json`) "
        "plus the method's settings. Nothing is tuned on unseen classes: GAZSL's iteration count, the baselines' "
        "hyper-parameters and every GZSL calibration are chosen on validation classes (seen classes held out from "
        "training); GZSL seen accuracy is measured on held-out images of seen classes. GZSL figures average per-class "
        "accuracies, and their tables name the classifier whose scores they calibrate: a baseline's own scores; for "
        "GAZSL with kNN the pivot classifier (cosine to each class's mean generated feature), as kNN votes take too "
        "few values to calibrate. ESZSL and prototype "
        "regression are closed-form and WAC-linear is convex (its seed only moves L-BFGS's starting point), so "
        "their std over seeds is 0. Per-seed figures: `leaderboard.json`.\n\n"
        f"{made_on(results)}\n\n"
        f"{describe(args.methods, args.splits, args.configs)}\n\n{text}\n"))
    print(text)
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
