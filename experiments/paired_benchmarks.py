"""One change against the benchmark's own cells, fold by fold: a second backbone or another text on the cub100_scs
folds (designs: experiments/benchmark_lite2.json, experiments/benchmark_text.json; both pre-registered).

    gazsl benchmark --design experiments/benchmark_lite2.json --runs runs/benchmark_lite2 \
        run --results experiments/results/benchmark_lite2 --jobs 2
    python experiments/paired_benchmarks.py --design experiments/benchmark_lite2.json    # -> backbone_benchmark.md

Reads the design's results and those of the benchmark it names (``compare_with``), checks that fold k holds the
same unseen, seen and validation classes on both, and writes experiments/results/<output>.md and .json: per method,
the candidate minus the reference in mean top-1 over the paired folds with the benchmark's corrected interval.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, data_error, write_json_atomic, write_text_atomic
from gazsl.protocols.benchmark_table import interval
from gazsl.protocols.paired import paired

RESULTS = Path("experiments/results")
CLAIMED = ("prototype", "gazsl_pivot+regression")
# What the Lite2 design (written before these keys existed) compares; a design may name its own.
DEFAULTS = {"reference_label": "Lite0", "candidate_label": "Lite2", "output": "backbone_benchmark",
            "results_dir": "benchmark_lite2",
            "title": "Second backbone: EfficientNet-Lite2 against Lite0 (cub100_scs folds)"}


def fold_classes(results: dict, protocol: str) -> dict[int, tuple]:
    """fold -> (unseen, seen, validation) class ids of the protocol's cells, the same for every method of a fold."""
    out = {}
    for cell in results["cells"]:
        if cell["cell"]["protocol"] == protocol:
            d = cell["definition"]
            out.setdefault(cell["cell"]["fold"], set()).add(
                (tuple(d["unseen_class_ids"]), tuple(d["seen_class_ids"]), json.dumps(d["validation_class_ids"])))
    if any(len(v) != 1 for v in out.values()):
        raise GazslError(f"protocol {protocol}: cells of one fold disagree on its classes")
    return {fold: next(iter(v)) for fold, v in out.items()}


def machines(results: dict, protocol: str) -> list[str]:
    """What made the protocol's GAZSL cells: the CPU they record (older cells record none) and the bf16 decision."""
    made = set()
    for cell in results["cells"]:
        if cell["cell"]["protocol"] == protocol and "bf16" in cell:
            instructions = cell.get("bf16_reason", "").removeprefix("auto: ").split(",")[0]
            made.add(f"{cell.get('cpu', 'CPU name not recorded')}, bf16 {'on' if cell['bf16'] else 'off'} "
                     f"({instructions}), {cell['threads']} thread(s) per cell")
    return sorted(made)


def compare(design: dict, reference: dict, candidate: dict) -> dict:
    (protocol_c,) = design["protocols"]
    protocol_r = design["compare_with"]["protocol"]
    if fold_classes(reference, protocol_r) != fold_classes(candidate, protocol_c):
        raise GazslError(f"{protocol_r} and {protocol_c}: the folds do not hold the same classes, so they cannot be paired")
    sr, sc = reference["protocols"][protocol_r], candidate["protocols"][protocol_c]
    ratio = sr["test_to_train"]
    rows = {}
    for method in sc["methods"]:
        a, b = np.array(sc["methods"][method]["test_per_fold"]), np.array(sr["methods"][method]["test_per_fold"])
        rows[method] = {"reference": float(b.mean()), "candidate": float(a.mean()),
                        "reference_validation": sr["methods"][method]["val_mean"],
                        "candidate_validation": sc["methods"][method]["val_mean"],
                        "candidate_minus_reference": paired(a, b, ratio).to_dict()}
    return {"protocols": [protocol_r, protocol_c], "folds": sc["folds"], "test_to_train": ratio, "rows": rows,
            "made_on": {"reference": machines(reference, protocol_r), "candidate": machines(candidate, protocol_c)},
            "cpu_minutes": {"reference": {m: round(t / 60) for m, t in sr["cpu_seconds"].items()},
                            "candidate": {m: round(t / 60) for m, t in sc["cpu_seconds"].items()}}}


def minutes(by_method: dict) -> str:
    return ", ".join(f"{m} {t}" for m, t in by_method.items())


def word(d: dict) -> str:
    return "helps" if d["low"] > 0 else "hurts" if d["high"] < 0 else "is not shown to help or hurt"


def render(design: dict, result: dict, design_path: Path, names: dict) -> str:
    ref, cand = names["reference_label"], names["candidate_label"]
    lines = []
    for method in CLAIMED:
        d = result["rows"][method]["candidate_minus_reference"]
        lines.append(f"- **{method}**: {cand} {word(d)}: {d['mean']:+.1f} points [{d['low']:+.1f}, {d['high']:+.1f}], "
                     f"{d['wins']} wins / {d['losses']} losses over {d['folds']} folds.")
    lines += ["", "Made by:", "", "```bash", f"gazsl benchmark --design {design_path} --runs runs/{names['results_dir']} "
              f"run --results experiments/results/{names['results_dir']} --jobs 2",
              f"python experiments/paired_benchmarks.py --design {design_path}", "```", "",
              f"Pre-registered in `{design_path}` before its first cell. {design['note']} {design['backbone_claim']} "
              f"Intervals: {design['interval']}. GAZSL cells, {ref}: {'; '.join(result['made_on']['reference'])}; "
              f"{cand}: {'; '.join(result['made_on']['candidate'])}; torch 2.13.0+cpu. CPU minutes (cell seconds x "
              f"threads), {ref}: {minutes(result['cpu_minutes']['reference'])}; {cand}: "
              f"{minutes(result['cpu_minutes']['candidate'])}.", "",
              f"| method | validation top-1 per class, {ref} / {cand} | test top-1, {ref} | test top-1, {cand} | "
              f"{cand} minus {ref} [95 % CI] | wins / losses |", "|---|---|---|---|---|---|"]
    for method, row in sorted(result["rows"].items(), key=lambda kv: (kv[0] not in CLAIMED, kv[0].startswith("gazsl"))):
        d = row["candidate_minus_reference"]
        mark = " (claimed)" if method in CLAIMED else ""
        lines.append(f"| {method}{mark} | {row['reference_validation']:.1f} / {row['candidate_validation']:.1f} | "
                     f"{row['reference']:.1f} | {row['candidate']:.1f} | {interval(d)} | {d['wins']} / {d['losses']} |")
    return f"# {names['title']}\n\n" + "\n".join(lines) + "\n"


def read_results(path: Path) -> dict:
    if not path.exists():
        raise data_error(path, "benchmark results not found; run the commands at the top of this script first")
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--design", type=Path, default=Path("experiments/benchmark_lite2.json"))
    args = p.parse_args(argv)
    design = json.loads(args.design.read_text(encoding="utf-8"))
    names = {**DEFAULTS, **{k: v for k, v in design["compare_with"].items() if k in DEFAULTS}}
    result = compare(design, read_results(Path(design["compare_with"]["results"])),
                     read_results(RESULTS / names["results_dir"] / "benchmark.json"))
    write_json_atomic(RESULTS / f"{names['output']}.json", {"design": str(args.design), **names, **result})
    text = render(design, result, args.design, names)
    write_text_atomic(RESULTS / f"{names['output']}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
