"""Does bf16 training keep GAZSL's accuracy? float32 vs bf16, paired by seed, on the same device.

    python experiments/precision.py --splits cub100_easy cub100_hard aviary_easy aviary_hard --seeds 3
        # -> experiments/results/precision.md

Trains every (split, seed) twice under the honest protocol, ``bf16`` forced
off and on, with the split's experiment config (experiments/configs/<split>.json)
and gazsl.reproduce's machinery: runs under runs/precision/<fp32|bf16>/<split>/honest/seed<k>,
finished runs reused, interrupted ones resumed. The table gives, per split, the
paired differences bf16 - float32 (mean ± std over seeds) and the seeds'
spread (the larger standard deviation of the two precisions' top-1). Where bf16
moves a split's mean top-1 by more than that spread, the verdict is that `auto`
stays off on that device type, and the command prints the entry of
gazsl.generator.precision.ACCURACY_VERDICTS that makes the code honour it. The table also
says what `auto` decides at each split's shapes on the machine that made it.

``--iters N`` overrides every config's iterations (with another ``--runs``): a
quick check that the command works, not a measurement.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gazsl.generator import precision
from gazsl.io import GazslError, run_cli, write_text_atomic
from gazsl.protocols.tables import environments, mean_std, parse_table_args, table_parser
from gazsl.protocols.cells import load_cell, run_cell, run_cells

RUNS_DIR = Path("runs/precision")
PRECISIONS = {"fp32": "off", "bf16": "on"}  # runs subfolder -> Config.bf16
PROTOCOL = "honest"
# (metrics key, header, scale): top-1 decides the verdict, the rest is shown
FIGURES = [("zsl_top1", "top-1 %", 1), ("zsl_top1_per_class", "top-1 per class %", 1), ("ausuc", "AUSUC %", 100),
           ("gzsl_h", "H %", 1)]


def run_precision_cell(split: str, seed: int, name: str, iterations, runs_dir: Path, config_dir: Path,
                       threads: int | None = None) -> dict:
    """One honest run of ``split`` with bf16 forced as ``PRECISIONS[name]`` says (a ``run_cells`` worker)."""
    overrides = {"bf16": PRECISIONS[name], **({"iterations": iterations} if iterations else {})}
    return run_cell(split, PROTOCOL, seed, runs_dir / name, config_dir, threads, overrides)


def spread(runs: dict[str, list[dict]], key: str = "zsl_top1") -> float:
    """The seeds' spread of a figure: the larger sample standard deviation of the two precisions (0 for one seed)."""
    return max(float(np.std([m[key] for m in r], ddof=1)) if len(r) > 1 else 0.0 for r in runs.values())


def shift(runs: dict[str, list[dict]]) -> float:
    """How far bf16 moves the mean top-1 (points; bf16 - float32)."""
    return float(np.mean([m["zsl_top1"] for m in runs["bf16"]]) - np.mean([m["zsl_top1"] for m in runs["fp32"]]))


def holds(runs: dict[str, list[dict]]) -> bool:
    """bf16 keeps the mean top-1 within the seeds' spread."""
    return abs(shift(runs)) <= spread(runs)


def parity_table(results: dict[str, dict[str, list[dict]]], decisions: dict[str, str]) -> str:
    """results: split -> {"fp32": metrics per seed, "bf16": metrics per seed, same seed order};
    decisions: split -> what `auto` decides at the split's shapes here."""
    header = (["split", "seeds", "top-1 % fp32", "top-1 % bf16"]
              + [f"Δ {h} (bf16 - fp32)" for _, h, _ in FIGURES] + ["seeds' spread of top-1", "s / run fp32 → bf16",
                                                                   "verdict", "`auto` here"])
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for split, runs in results.items():
        fp32, bf16 = runs["fp32"], runs["bf16"]
        assert [m["seed"] for m in fp32] == [m["seed"] for m in bf16], "differences are paired by seed"
        deltas = [mean_std([(b[key] - f[key]) * scale for f, b in zip(fp32, bf16)], 2) for key, _, scale in FIGURES]
        seconds = f"{np.mean([m['seconds'] for m in fp32]):.0f} → {np.mean([m['seconds'] for m in bf16]):.0f}"
        cells = [split, str(len(fp32)), mean_std([m["zsl_top1"] for m in fp32], 2),
                 mean_std([m["zsl_top1"] for m in bf16], 2), *deltas, f"{spread(runs):.2f}", seconds,
                 "holds" if holds(runs) else "**moves**", decisions.get(split, "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def closing(results: dict[str, dict[str, list[dict]]]) -> tuple[str, dict[str, str]]:
    """The verdict paragraph, and the ACCURACY_VERDICTS entries (device type -> why) it calls for."""
    devices = sorted({m["device"].split(":")[0] for runs in results.values() for r in runs.values() for m in r})
    moved = [f"bf16 moved {split}'s mean top-1 by {shift(runs):+.2f} points, more than the seeds' spread "
             f"{spread(runs):.2f}" for split, runs in results.items() if not holds(runs)]
    if not moved:
        return (f"Verdict: bf16 keeps every split's mean top-1 within the seeds' spread on {', '.join(devices)}: "
                "`auto` may turn bf16 on there (it does where the device multiplies bf16 faster, src/gazsl/generator/precision.py)."), {}
    why = "; ".join(moved) + " (experiments/results/precision.md)"
    entries = {device: why for device in devices}
    recorded = all(precision.ACCURACY_VERDICTS.get(device) == why for device in devices)
    status = ("recorded in `gazsl.generator.precision.ACCURACY_VERDICTS`" if recorded else
              "to be recorded in `gazsl.generator.precision.ACCURACY_VERDICTS` (the command prints the entry)")
    return (f"Verdict: {why}. `auto` stays off on {', '.join(devices)}: {status}."), entries


def auto_decision(split: str, config_dir: Path) -> str:
    """What bf16 'auto' decides here at the split's shapes (a probe on this machine; another may differ)."""
    from gazsl.generator.trainer import resolve_device
    from gazsl.datasets.stores import open_store

    _, config, store = load_cell(split, config_dir)
    features = open_store(split, store).features.shape[1]
    decided = precision.resolve("auto", resolve_device(config.device), config.batch_size, features, config.critic_hidden)
    return f"**{decided.setting}** ({decided.reason})"


def main(argv=None) -> int:
    parser = table_parser("experiments.precision", __doc__.split("\n\n")[0])
    parser.prog = "python experiments/precision.py"
    parser.set_defaults(runs=RUNS_DIR)
    parser.add_argument("--iters", type=int, help="override every config's iterations: a quick check, not a measurement")
    args, command = parse_table_args(parser, argv)
    if args.seeds < 2:
        raise GazslError("--seeds must be at least 2: the verdict compares bf16's shift with the seeds' spread")
    seeds = range(args.seeds)
    cells = [(split, seed, name, args.iters) for split in args.splits for seed in seeds for name in PRECISIONS]
    metrics = run_cells(cells, args.runs, args.configs, args.jobs, run=run_precision_cell)
    results = {split: {name: [metrics[(split, seed, name, args.iters)] for seed in seeds] for name in PRECISIONS}
               for split in args.splits}
    decisions = {split: auto_decision(split, args.configs) for split in args.splits}
    text = parity_table(results, decisions)
    paragraph, entries = closing(results)
    runs = [m for by_name in results.values() for r in by_name.values() for m in r]
    iterations = f" with --iters {args.iters} (a check of the command, not a measurement)" if args.iters else ""
    write_text_atomic(args.results / "precision.md", (
        f"# bf16 vs float32: does bf16 training keep the accuracy?\n\nMade by:\n\n```bash\n{command}\n```\n\n"
        f"Honest protocol, each split's experiment config{iterations}, seeds 0..{args.seeds - 1}, every seed trained "
        "twice on the same device: `bf16` off (float32) and on (bf16 products, float32 weights, optimiser state and "
        "loss reductions; evaluation in float32, see src/gazsl/scoring/evaluate.py). Δ columns are paired differences "
        "bf16 - float32 per seed, mean ± std over seeds. The seeds' spread is the larger standard deviation of the "
        "two precisions' top-1; a split whose mean top-1 bf16 moves by more than it **moves**. `auto here` is what "
        "`--bf16 auto` decides at the split's shapes on the machine that made this table (a timed probe: another "
        f"machine may decide otherwise). Made on: {environments(runs)}.\n\n{text}\n\n{paragraph}\n"))
    print(text + "\n\n" + paragraph)
    for device, why in entries.items():
        print(f"src/gazsl/generator/precision.py, ACCURACY_VERDICTS: {device!r}: {why!r},")
    return 0


if __name__ == "__main__":
    run_cli(main)
