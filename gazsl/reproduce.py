"""Multi-seed result tables: one experiment config per table cell, runs under both protocols.

    python -m gazsl.reproduce --splits aviary_easy aviary_hard --seeds 3

reads experiments/configs/<split>.json, trains each (split, protocol, seed)
under runs/reproduce/ (finished runs are reused, interrupted ones resumed),
and writes experiments/results/<split>.md and <split>_gzsl.png.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from gazsl import config as config_module
from gazsl.io import GazslError, atomic_path, data_error, exclusive_lock, write_text_atomic
from gazsl.protocol import PROTOCOLS
from gazsl.runs import finished_run
from gazsl.train import train

CONFIG_DIR = Path("experiments/configs")
RESULTS_DIR = Path("experiments/results")
RUNS_DIR = Path("runs/reproduce")

# Zhu et al. 2018, Table 2/3, on the authors' 3584-d part features (top-1 %, AUSUC %).
PAPER_FIGURES = {
    "cub_easy": (43.7, 35.4), "cub_hard": (10.3, 8.7),
    "nab_easy": (35.6, 20.4), "nab_hard": (8.6, 5.8),
}


def read_cell(split: str, config_dir: Path = CONFIG_DIR) -> dict:
    """The experiment config of one split, as written (keys: ``config.EXPERIMENT_KEYS``)."""
    path = config_dir / f"{split}.json"
    if not path.exists():
        known = sorted(p.stem for p in config_dir.glob("*.json"))
        raise data_error(path, f"no experiment config for split '{split}' (available: {', '.join(known)})")
    try:
        cell = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise data_error(path, f"invalid JSON ({err.msg})", f"line {err.lineno}") from None
    unknown = set(cell) - set(config_module.EXPERIMENT_KEYS)
    if unknown:
        raise data_error(path, f"unknown key(s) {sorted(unknown)}")
    return cell


def load_cell(split: str, config_dir: Path = CONFIG_DIR) -> tuple[str, config_module.Config, str | None]:
    """(preset name, config, store path or None) of one table cell."""
    path = config_dir / f"{split}.json"
    cell = read_cell(split, config_dir)
    preset = cell.get("preset", "cpu")
    config = config_module.from_mapping(config_module.preset(preset), cell.get("overrides", {}), str(path))
    return preset, config, cell.get("store")


def run_cell(split: str, protocol: str, seed: int, runs_dir: Path = RUNS_DIR, config_dir: Path = CONFIG_DIR,
             threads: int | None = None, overrides: dict | None = None) -> dict:
    """Train one cell (the split's experiment config, plus ``overrides`` for a method variant), or reuse its run."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    out = runs_dir / split / protocol / f"seed{seed}"
    preset, config, store = load_cell(split, config_dir)
    config = config_module.from_mapping(config, {**(overrides or {}), "seed": seed}, f"settings of {out}")
    metrics = finished_run(out, split, protocol, preset, config, store)
    if metrics is not None:
        return metrics
    resume = any(out.glob("checkpoint_*.pt"))
    return train(split, config, out, protocol, preset, store, resume=resume)


def run_cells(cells: list[tuple], runs_dir: Path, config_dir: Path, jobs: int, run=run_cell) -> dict[tuple, dict]:
    """Metrics of every cell, ``jobs`` processes at a time: ``run(*cell, runs_dir, config_dir, threads)``.

    The default ``run_cell`` takes (split, protocol, seed) cells; ``run`` must be a module-level function
    (the worker processes import it).
    """
    with exclusive_lock(Path(runs_dir) / ".lock", f"runs folder {runs_dir}"):  # one table command per runs folder
        if jobs <= 1:
            return {cell: run(*cell, runs_dir, config_dir) for cell in cells}
        import multiprocessing
        import os
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, (os.cpu_count() or 1) // jobs)
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {cell: pool.submit(run, *cell, runs_dir, config_dir, threads) for cell in cells}
            return {cell: future.result() for cell, future in futures.items()}


COLUMNS = [  # (metrics key, header, scale)
    ("zsl_top1", "top-1 %", 1), ("zsl_top1_per_class", "top-1 per class %", 1), ("ausuc", "AUSUC %", 100),
    ("zsl_top1_best", "top-1 % (oracle-selected)", 1), ("ausuc_best", "AUSUC % (oracle-selected)", 100),
    ("gzsl_seen", "GZSL seen %", 1), ("gzsl_unseen", "GZSL unseen %", 1), ("gzsl_h", "H %", 1),
    ("iterations", "iterations", 1),
]


def mean_std(values, digits: int = 1) -> str:
    """Mean ± sample standard deviation (0 for a single value)."""
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.{digits}f}"


def environments(runs: list[dict]) -> str:
    """Where the runs were made, e.g. "24 runs on cuda (NVIDIA H200), torch 2.11.0+cu130": GPU runs are not bitwise
    reproducible (atomic adds), and CPU and GPU runs of one seed differ, so a table says which it holds."""
    counts: dict[str, int] = {}
    for m in runs:
        place = m.get("device", "cpu")
        if m.get("device_name"):
            place += f" ({m['device_name']})"
        if "versions" in m:
            place += f", torch {m['versions']['torch']}"
        counts[place] = counts.get(place, 0) + 1
    return "; ".join(f"{n} run{'s' * (n > 1)} on {place}" for place, n in counts.items())


def table(split: str, results: dict[str, list[dict]]) -> str:
    present = [c for c in COLUMNS if any(c[0] in m for runs in results.values() for m in runs)]
    lines = ["| protocol | classifier | GZSL classifier | text | seeds | " + " | ".join(h for _, h, _ in present) + " |",
             "|---" * (5 + len(present)) + "|"]
    for protocol, runs in results.items():
        cells = [mean_std([m[key] * scale for m in runs]) if key in runs[0] else "" for key, _, scale in present]
        lines.append(f"| {protocol} | {runs[0]['classifier']} | {runs[0]['gzsl_classifier']} | {runs[0]['text']} | "
                     f"{len(runs)} | " + " | ".join(cells) + " |")
    if split in PAPER_FIGURES:
        top1, ausuc = PAPER_FIGURES[split]
        cells = ["" for _ in present]
        cells[[k for k, _, _ in present].index("zsl_top1")] = f"{top1}"
        cells[[k for k, _, _ in present].index("ausuc")] = f"{ausuc}"
        lines.append("| published (Zhu et al. 2018, paper features) | knn | pivot | tfidf | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(split: str, results: dict[str, list[dict]], runs_dir: Path, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4.5))
    for colour, (protocol, runs) in zip(("tab:blue", "tab:orange"), results.items()):
        for i, m in enumerate(runs):
            curve = json.loads((runs_dir / split / protocol / f"seed{m['seed']}" / "gzsl_curve.json").read_text())
            ax.plot(curve["unseen"], curve["seen"], color=colour, alpha=0.7,
                    label=f"{protocol} (AUSUC {mean_std([r['ausuc'] * 100 for r in runs])})" if i == 0 else None)
    ax.set(xlabel="unseen accuracy (honest: mean per class; paper: per sample)", ylabel="seen accuracy (likewise)",
           title=f"{split}: seen-unseen curves, one per seed", xlim=(0, 1), ylim=(0, 1))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def table_parser(module: str, description: str) -> argparse.ArgumentParser:
    """The options every table command (this one, gazsl.leaderboard) shares; add its own, then ``parse_table_args``."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--splits", nargs="+", required=True)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--runs", type=Path, default=RUNS_DIR)
    parser.add_argument("--configs", type=Path, default=CONFIG_DIR)
    parser.add_argument("--jobs", type=int, default=1, help="cells in parallel (worth it on a GPU or many cores)")
    return parser


def parse_table_args(parser: argparse.ArgumentParser, argv=None) -> tuple[argparse.Namespace, str]:
    """The parsed options, checked before any training starts, and the command line to print above the table."""
    args = parser.parse_args(argv)
    if args.seeds < 1:
        raise GazslError("--seeds must be at least 1")
    for split in args.splits:  # fail on a missing config before any training starts
        load_cell(split, args.configs)
    command = f"{parser.prog} " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    return args, command


def main(argv=None) -> int:
    parser = table_parser("gazsl.reproduce", __doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=(*PROTOCOLS, "both"), default="both")
    args, command = parse_table_args(parser, argv)
    protocols = PROTOCOLS if args.protocol == "both" else (args.protocol,)
    cells = [(split, p, seed) for split in args.splits for p in protocols for seed in range(args.seeds)]
    metrics = run_cells(cells, args.runs, args.configs, args.jobs)
    for split in args.splits:
        results = {p: [metrics[(split, p, seed)] for seed in range(args.seeds)] for p in protocols}
        text = table(split, results)
        plot_curves(split, results, args.runs, args.results / f"{split}_gzsl.png")
        preset = results[protocols[0]][0]["preset"]
        note = read_cell(split, args.configs).get("note")
        write_text_atomic(args.results / f"{split}.md", (
            f"# {split}\n\nMade by:\n\n```bash\n{command}\n```\n\n"
            + (f"Config note: {note}\n\n" if note else "") +
            f"Preset `{preset}` with `{args.configs / f'{split}.json'}`; mean ± std over seeds 0..{args.seeds - 1}. "
            "Top-1 is per sample over unseen classes (the paper's figure); AUSUC is the area under the "
            "seen-unseen accuracy curve. Under the honest protocol GZSL accuracies (AUSUC, seen, unseen, H) are means "
            "of per-class accuracies, on the exact curve; under the paper protocol they are per-sample accuracies over "
            "the authors' 400 constants -2, -1.99, ..., 1.99, as their code computes them. Every GZSL figure calibrates the "
            "scores of the *GZSL classifier*: with kNN that is the pivot classifier (cosine to each class's mean "
            "generated feature), as kNN votes take too few values to calibrate. *Oracle-selected* figures pick the best evaluation on the unseen test set, "
            "as the original code did: they are biased upwards and shown only to make that bias visible. "
            "Under the honest protocol, iterations are chosen on validation classes and GZSL seen accuracy "
            "is measured on held-out seen images. "
            f"Made on: {environments([m for runs in results.values() for m in runs])}.\n\n"
            f"{text}\n\n![seen-unseen curves]({split}_gzsl.png)\n"))
        print(f"\n## {split}\n{text}")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
