"""Result tables of gazsl.reproduce and gazsl.leaderboard: mean ± std over seeds, environments, GZSL curves."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, atomic_path, data_error, write_text_atomic
from gazsl.protocols.cells import CONFIG_DIR, PAPER_FIGURES, RESULTS_DIR, RUNS_DIR, load_cell

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
    reproducible (atomic adds), CPU and GPU runs of one seed differ, and so do CPUs of different makes (their float32
    kernels round differently; a GAN amplifies it), so a table says which it holds."""
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


def put_verdict(path: Path, verdict: str) -> None:
    """Put ``verdict`` atop a result file, between its title line and its "Made by:" (replacing what stood there), so
    that a file whose figures cannot be remade without runs still opens with a verdict kept up to date."""
    text = path.read_text(encoding="utf-8")
    title, _, rest = text.partition("\n\n")
    if not title.startswith("# ") or "Made by:" not in rest:
        raise data_error(path, "not a result file (a '# ' title, then a paragraph starting 'Made by:')")
    fresh = f"{title}\n\n{verdict}\n\n{rest[rest.index('Made by:'):]}"
    if fresh != text:
        write_text_atomic(path, fresh)


def table_parser(module: str, description: str, splits_required: bool = True) -> argparse.ArgumentParser:
    """The options every table command (this one, gazsl.leaderboard) shares; add its own, then ``parse_table_args``.
    ``splits_required=False``: a command that can also render stored figures checks --splits itself."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    parser.add_argument("--splits", nargs="+", required=splits_required, default=[])
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
