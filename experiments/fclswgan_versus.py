"""f-CLSWGAN against the best baseline and against GAZSL's pre-registered row, fold by fold, as
``experiments/benchmark_fclswgan.json`` pre-registers: top-1, AUSUC and H, each with the benchmark's corrected interval.

    gazsl benchmark --design experiments/benchmark_fclswgan.json --runs runs/benchmark_fclswgan \
        run --results experiments/results/benchmark_fclswgan --jobs 2
    python experiments/fclswgan_versus.py      # -> experiments/results/benchmark_fclswgan/versus.md

Reads only the benchmark's own results (``benchmark.json``): the table there compares every row with the best
baseline; this adds the comparison with GAZSL that the claim reports beside it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gazsl.io import write_text_atomic
from gazsl.protocols.benchmark_table import interval
from gazsl.protocols.paired import paired

RESULTS = Path("experiments/results/benchmark_fclswgan")
PROTOCOL, METHOD, GAZSL_ROW = "cub100_scs", "fclswgan", "gazsl_pivot+regression"
FIGURES = {"zsl_top1": "top-1", "ausuc": "AUSUC", "gzsl_h": "H"}


def per_fold(summary: dict, key: str, method: str) -> list[float]:
    if key == "zsl_top1":
        return summary["methods"][method]["test_per_fold"]
    return summary["gzsl"][key]["methods"][method]["test_per_fold"]


def versus_table(summary: dict) -> str:
    best = summary["best_baseline"]
    lines = [f"| {METHOD} minus | " + " | ".join(f"{label} [95 % CI] | wins / losses" for label in FIGURES.values())
             + " |", "|---" * (1 + 2 * len(FIGURES)) + "|"]
    for other, why in ((best, "the best baseline"), (GAZSL_ROW, "GAZSL's pre-registered row")):
        cells = []
        for key in FIGURES:
            p = paired(per_fold(summary, key, METHOD), per_fold(summary, key, other), summary["test_to_train"])
            cells += [interval(p.to_dict()), f"{p.wins} / {p.losses}"]
        lines.append(f"| {other} ({why}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS, help="the benchmark's results folder")
    args = parser.parse_args(argv)
    summary = json.loads((args.results / "benchmark.json").read_text())["protocols"][PROTOCOL]
    text = (f"# f-CLSWGAN against the best baseline and GAZSL on the {PROTOCOL} folds\n\nMade by:\n\n```bash\n"
            f"python experiments/fclswgan_versus.py\n```\n\nFrom `{args.results}/benchmark.json`: the points by which "
            f"{METHOD} leads on each figure, mean over {summary['folds']} folds with the benchmark's corrected 95 % "
            "interval (paired, the same folds). The best baseline is the one with the highest mean test top-1, as the "
            "pre-registered claim defines it for all three figures (the benchmark's GZSL table compares each figure "
            f"with the baseline best by that figure instead).\n\n{versus_table(summary)}\n\nMade on {'; '.join(summary['made_on'])}.\n")
    write_text_atomic(args.results / "versus.md", text)
    print(text)


if __name__ == "__main__":
    main()
