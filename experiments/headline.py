"""The headline tables of the README and of the documentation's home page, from the benchmarks' committed cells.

    python experiments/headline.py    # -> experiments/results/headline.md

By text (``TEXTS``: each a pre-registered benchmark on the same cub100 folds, its first protocol the claim's), the
best baseline and the recommended generator-based row, each text's difference with its paired interval: the README's
table. Then, on the articles' folds (cub100_scs), the recommended GAZSL row, GAZSL's own classifiers alone (pivot,
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
# text -> (its benchmark's design, results): the same cub100 folds (fold rule and seed), one text each
TEXTS = {"Wikipedia articles": (DESIGN, RESULTS),
         "visual descriptions": (Path("experiments/benchmark_descriptions.json"),
                                 Path("experiments/results/benchmark_descriptions/benchmark.json"))}
GAZSL_ROWS = {"gazsl_pivot+regression": "GAZSL fused with regression (recommended, pre-registered)",
              "gazsl_pivot": "GAZSL alone, pivot classifier",
              "gazsl_knn": "GAZSL alone, kNN (the paper's classifier)"}
BASELINE_NAMES = {"prototype": "prototype regression", "eszsl": "ESZSL", "wac_linear": "WAC-linear"}
RECOMMENDED_NAMES = {"gazsl_pivot+regression": "GAZSL fused with regression", "gazsl_knn": "GAZSL, kNN"}


def claim_figures(design: dict, results: dict, source: Path) -> tuple[str, dict, str, float]:
    """(the claim's protocol, row -> fold figures, the best baseline by mean top-1, the folds' test/train ratio)."""
    if design != results["design"]:
        raise GazslError(f"{source} was made with another design than the one pre-registered")
    protocol = next(iter(design["protocols"]))
    found = {Cell(**record["cell"]): record for record in results["cells"] if record["cell"]["protocol"] == protocol}
    figures = fold_figures(design, found, protocol)  # top-1 under "test", AUSUC (in percent) under "ausuc"
    best = max(design["baselines"], key=lambda m: figures[m]["test"].mean())
    return protocol, figures, best, test_to_train(found, protocol)


def text_table(benchmarks: dict[str, tuple[dict, dict]]) -> str:
    """The README's table: per text (label -> (design, results)), the best baseline's and the recommended row's mean
    top-1 / AUSUC over the folds, and the recommended minus the best baseline with its paired 95 % interval."""
    lines = ["| text (cub100, 5 folds of 20 unseen classes) | best baseline: top-1 / AUSUC % | recommended generator row: "
             "top-1 / AUSUC % | Δ top-1 [95 % CI] | Δ AUSUC [95 % CI] |", "|---|---|---|---|---|"]
    for label, (design, results) in benchmarks.items():
        _, figures, best, ratio = claim_figures(design, results, Path(label))
        rec = design["recommended"]["method"]
        d_top1 = paired(figures[rec]["test"], figures[best]["test"], ratio).to_dict()
        d_ausuc = paired(figures[rec]["ausuc"], figures[best]["ausuc"], ratio).to_dict()
        lines.append(f"| {label} ({design['protocols'][next(iter(design['protocols']))]['text']}) | "
                     f"{BASELINE_NAMES.get(best, best)} {figures[best]['test'].mean():.1f} / "
                     f"{figures[best]['ausuc'].mean():.1f} | {RECOMMENDED_NAMES.get(rec, rec)} "
                     f"{figures[rec]['test'].mean():.1f} / {figures[rec]['ausuc'].mean():.1f} | {interval(d_top1)} | "
                     f"{interval(d_ausuc)} |")
    return "\n".join(lines)


def headline_table(design: dict, results: dict) -> str:
    """The articles' table: one row per method, the best baseline first. ``design`` is the pre-registered one, whose
    first protocol is the claim's (the results file keeps the same design with its keys sorted)."""
    protocol, figures, best, ratio = claim_figures(design, results, RESULTS)
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


def page(texts: str, table: str) -> str:
    return ("# Headline: GAZSL against the best baseline on the benchmark's folds\n\nMade by:\n\n```bash\n"
            "python experiments/headline.py\n```\n\n"
            "By text: each a pre-registered benchmark on the same cub100 folds (the same classes in each fold), its "
            "best baseline (highest mean top-1 over the folds) and its pre-registered recommended row, and the "
            "recommended minus the best baseline with the paired 95 % interval (`gazsl.protocols.paired`):\n\n"
            + texts + "\n\nWith the articles, on their folds in detail: "
            "from `benchmark.json`'s cells alone (nothing rerun): mean over the folds of top-1 % per sample over the "
            "fold's unseen classes and of the honest AUSUC (%), and each GAZSL row minus the best baseline (the "
            "baseline with the highest mean top-1), with the benchmark's paired 95 % interval corrected for the "
            "folds' shared training classes (`gazsl.protocols.paired`). The top-1 columns repeat `benchmark.md`'s; "
            "the AUSUC columns are computed the same way from the same cells.\n\n" + table + "\n")


def read_results(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise data_error(path, f"unreadable benchmark results ({err})") from None


def main(argv: list[str] | None = None) -> None:
    del argv  # no options: the table is a function of the committed results
    benchmarks = {label: (read_design(design), read_results(results)) for label, (design, results) in TEXTS.items()}
    write_text_atomic(OUTPUT, page(text_table(benchmarks), headline_table(*benchmarks["Wikipedia articles"])))
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except GazslError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
