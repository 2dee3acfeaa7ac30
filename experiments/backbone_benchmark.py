"""EfficientNet-Lite2 against Lite0 on the benchmark's cub100_scs folds (design: experiments/benchmark_lite2.json).

    gazsl benchmark --design experiments/benchmark_lite2.json --runs runs/benchmark_lite2 \
        run --results experiments/results/benchmark_lite2 --jobs 2
    python experiments/backbone_benchmark.py

Reads both benchmarks' results files, checks that fold k has the same unseen, seen and validation classes on both
backbones, and writes experiments/results/backbone_benchmark.md and .json: per method, Lite2 minus Lite0 in mean
top-1 over the paired folds with the benchmark's corrected interval.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, data_error, write_json_atomic, write_text_atomic
from gazsl.protocols.paired import paired

RESULTS = Path("experiments/results")
CLAIMED = ("prototype", "gazsl_pivot+regression")


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


def compare(design: dict, lite0: dict, lite2: dict) -> dict:
    (protocol2,) = design["protocols"]
    protocol0 = design["compare_with"]["protocol"]
    if fold_classes(lite0, protocol0) != fold_classes(lite2, protocol2):
        raise GazslError(f"{protocol0} and {protocol2}: the folds do not hold the same classes, so they cannot be paired")
    s0, s2 = lite0["protocols"][protocol0], lite2["protocols"][protocol2]
    ratio = s0["test_to_train"]
    rows = {}
    for method in s2["methods"]:
        a, b = np.array(s2["methods"][method]["test_per_fold"]), np.array(s0["methods"][method]["test_per_fold"])
        rows[method] = {"lite0": float(b.mean()), "lite2": float(a.mean()),
                        "lite0_validation": s0["methods"][method]["val_mean"],
                        "lite2_validation": s2["methods"][method]["val_mean"],
                        "lite2_minus_lite0": paired(a, b, ratio).to_dict()}
    return {"protocols": [protocol0, protocol2], "folds": s2["folds"], "test_to_train": ratio, "rows": rows,
            "made_on": {"lite0": machines(lite0, protocol0), "lite2": machines(lite2, protocol2)},
            "cpu_minutes": {"lite0": {m: round(t / 60) for m, t in s0["cpu_seconds"].items()},
                            "lite2": {m: round(t / 60) for m, t in s2["cpu_seconds"].items()}}}


def minutes(by_method: dict) -> str:
    return ", ".join(f"{m} {t}" for m, t in by_method.items())


def word(d: dict) -> str:
    return "helps" if d["low"] > 0 else "hurts" if d["high"] < 0 else "is not shown to help or hurt"


def render(design: dict, result: dict, design_path: Path) -> str:
    lines = []
    for method in CLAIMED:
        d = result["rows"][method]["lite2_minus_lite0"]
        lines.append(f"- **{method}**: Lite2 {word(d)}: {d['mean']:+.1f} points [{d['low']:+.1f}, {d['high']:+.1f}], "
                     f"{d['wins']} wins / {d['losses']} losses over {d['folds']} folds.")
    lines += ["", "Made by:", "", "```bash", "gazsl benchmark --design experiments/benchmark_lite2.json --runs runs/benchmark_lite2 "
              "run --results experiments/results/benchmark_lite2 --jobs 2",
              "python experiments/backbone_benchmark.py", "```", "",
              f"Pre-registered in `{design_path}` before its first cell. {design['note']} {design['backbone_claim']} "
              f"Intervals: {design['interval']}. GAZSL cells, Lite0: {'; '.join(result['made_on']['lite0'])}; Lite2: "
              f"{'; '.join(result['made_on']['lite2'])}; torch 2.13.0+cpu. CPU minutes (cell seconds x threads), "
              f"Lite0: {minutes(result['cpu_minutes']['lite0'])}; Lite2: {minutes(result['cpu_minutes']['lite2'])}.",
              "",
              f"| method | validation top-1 per class, Lite0 / Lite2 | test top-1, Lite0 | test top-1, Lite2 | "
              f"Lite2 minus Lite0 [95 % CI] | wins / losses |", "|---|---|---|---|---|---|"]
    for method, row in sorted(result["rows"].items(), key=lambda kv: (kv[0] not in CLAIMED, kv[0].startswith("gazsl"))):
        d = row["lite2_minus_lite0"]
        mark = " (claimed)" if method in CLAIMED else ""
        lines.append(f"| {method}{mark} | {row['lite0_validation']:.1f} / {row['lite2_validation']:.1f} | "
                     f"{row['lite0']:.1f} | {row['lite2']:.1f} | {d['mean']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] | "
                     f"{d['wins']} / {d['losses']} |")
    return "# Second backbone: EfficientNet-Lite2 against Lite0 (cub100_scs folds)\n\n" + "\n".join(lines) + "\n"


def read_results(path: Path) -> dict:
    if not path.exists():
        raise data_error(path, "benchmark results not found; run the commands at the top of this script first")
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--design", type=Path, default=Path("experiments/benchmark_lite2.json"))
    p.add_argument("--lite2-results", type=Path, default=RESULTS / "benchmark_lite2" / "benchmark.json")
    args = p.parse_args(argv)
    design = json.loads(args.design.read_text(encoding="utf-8"))
    result = compare(design, read_results(Path(design["compare_with"]["results"])), read_results(args.lite2_results))
    write_json_atomic(RESULTS / "backbone_benchmark.json", {"design": str(args.design), **result})
    text = render(design, result, args.design)
    write_text_atomic(RESULTS / "backbone_benchmark.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
