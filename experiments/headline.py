"""The headline table of the README and of the documentation's home page, from the benchmark's committed cells.

    python experiments/headline.py    # -> experiments/results/headline.md

On the pre-registered protocol's folds (cub100_scs), the recommended GAZSL row, GAZSL's own classifiers alone (pivot,
and kNN, the paper's) and the best baseline (the baseline with the highest mean top-1 over the folds, as the
benchmark defines it): mean top-1 and mean AUSUC over the folds, and each GAZSL row minus the best baseline with the
benchmark's paired, overlap-corrected 95 % interval (``gazsl.protocols.paired``). The top-1 figures are those of
``benchmark.md``; the AUSUC ones are computed here the same way from the same cells' ``ausuc``, which
``benchmark.md`` does not tabulate. Nothing is run: it reads ``experiments/results/benchmark.json`` and the design.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gazsl.io import GazslError, data_error, write_text_atomic
from gazsl.protocols.benchmark import DESIGN, Cell, read_design
from gazsl.protocols.benchmark_table import fold_figures, interval, test_to_train
from gazsl.protocols.paired import paired

RESULTS = Path("experiments/results/benchmark.json")
OUTPUT = Path("experiments/results/headline.md")
GAZSL_ROWS = {"gazsl_pivot+regression": "GAZSL fused with regression (recommended, pre-registered)",
              "gazsl_pivot": "GAZSL alone, pivot classifier",
              "gazsl_knn": "GAZSL alone, kNN (the paper's classifier)"}
BASELINE_NAMES = {"prototype": "prototype regression", "eszsl": "ESZSL", "wac_linear": "WAC-linear"}


def headline_table(design: dict, results: dict) -> str:
    """The table's Markdown: one row per method, the best baseline first. ``design`` is the pre-registered one, whose
    first protocol is the claim's (the results file keeps the same design with its keys sorted)."""
    if design != results["design"]:
        raise GazslError(f"{RESULTS} was made with another design than {DESIGN}")
    protocol = next(iter(design["protocols"]))
    found = {Cell(**record["cell"]): record for record in results["cells"] if record["cell"]["protocol"] == protocol}
    ratio = test_to_train(found, protocol)
    figures = fold_figures(design, found, protocol)  # top-1 under "test", AUSUC (in percent) under "ausuc"
    best = max(design["baselines"], key=lambda m: figures[m]["test"].mean())
    lines = [f"| {protocol}, {len(figures[best]['test'])} folds | top-1 % | Δ top-1 [95 % CI] | AUSUC % | "
             "Δ AUSUC [95 % CI] |", "|---|---|---|---|---|",
             f"| {BASELINE_NAMES.get(best, best)} (best baseline) | {figures[best]['test'].mean():.1f} | — | "
             f"{figures[best]['ausuc'].mean():.1f} | — |"]
    for method, label in GAZSL_ROWS.items():
        d_top1 = paired(figures[method]["test"], figures[best]["test"], ratio).to_dict()
        d_ausuc = paired(figures[method]["ausuc"], figures[best]["ausuc"], ratio).to_dict()
        lines.append(f"| {label} | {figures[method]['test'].mean():.1f} | {interval(d_top1)} | "
                     f"{figures[method]['ausuc'].mean():.1f} | {interval(d_ausuc)} |")
    return "\n".join(lines)


def page(table: str) -> str:
    return ("# Headline: GAZSL against the best baseline on the benchmark's folds\n\nMade by:\n\n```bash\n"
            "python experiments/headline.py\n```\n\n"
            "From `benchmark.json`'s cells alone (nothing rerun): mean over the folds of top-1 % per sample over the "
            "fold's unseen classes and of the honest AUSUC (%), and each GAZSL row minus the best baseline (the "
            "baseline with the highest mean top-1), with the benchmark's paired 95 % interval corrected for the "
            "folds' shared training classes (`gazsl.protocols.paired`). The top-1 columns repeat `benchmark.md`'s; "
            "the AUSUC columns are computed the same way from the same cells.\n\n" + table + "\n")


def main(argv: list[str] | None = None) -> None:
    del argv  # no options: the table is a function of the committed results
    try:
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise data_error(RESULTS, f"unreadable benchmark results ({err})") from None
    write_text_atomic(OUTPUT, page(headline_table(read_design(DESIGN), results)))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except GazslError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
