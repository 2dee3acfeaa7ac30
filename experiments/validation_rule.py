"""Does validation rank methods as the test does, before and after hard splits validated on whole families?

    python experiments/validation_rule.py --splits cub100_hard aviary_hard --seeds 3 --jobs 2
        # -> experiments/results/validation_rule.md

"After" is the leaderboard (``gazsl.leaderboard``, experiments/results/leaderboard.json, made first): hard splits
validate on whole families of seen classes (``gazsl.store.splits.val_rule_for``). "Before" is the same leaderboard
command on copies of the stores whose hard splits draw their validation classes at random from the seen classes, as
every split did before (same seed, same held-out images: only the validation classes differ). Each writes its own
runs (runs/validation_rule/) and configs; the table gives, per split, Spearman's rho between the methods' mean
validation top-1 per class and their mean test top-1 (``gazsl.protocols.leaderboard.spearman``), the validation and test
figures of the best method by each, and what the one choice rule (``gazsl_chosen``) picks under either rule.
validation_rule.json keeps the rho figures, which the next ``gazsl.leaderboard`` table quotes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from gazsl import leaderboard as leaderboard_command
from gazsl.protocols import leaderboard
from gazsl.datasets.stores import open_store
from gazsl.store.splits import make_split
from gazsl.io import GazslError, data_error, run_cli, write_json_atomic, write_text_atomic
from gazsl.protocols.cells import load_cell, read_cell
from gazsl.protocols.tables import mean_std, parse_table_args, table_parser

WORK_DIR = Path("runs/validation_rule")


def random_rule_store(split: str, config_dir: Path, work: Path) -> Path:
    """A copy of ``split``'s store (under ``work``) whose validation classes of ``split`` are drawn at random."""
    _, _, store_path = load_cell(split, config_dir)
    store = open_store(split, store_path)
    old = store.split(split)
    target = work / "stores" / f"{store.dataset}.h5"
    if target.exists():  # other splits of the dataset may already be in it
        store = open_store(split, target)
    # the store's own seed is the one whose draws reproduce its held-out images (they do not depend on the rule)
    for seed in range(100):
        new = make_split(split, old.seen, old.unseen, store.labels, seed=seed, val_rule="random")
        if np.array_equal(new.heldout_images, old.heldout_images):
            break
    else:
        raise data_error(store.path, f"no seed below 100 reproduces the held-out images of split '{split}'")
    store.splits[split] = dataclasses.replace(old, val=new.val, val_rule="random")
    store.save(target)
    return target


def main(argv=None) -> int:
    parser = table_parser("experiments.validation_rule", __doc__.split("\n\n")[0])
    parser.prog = "python experiments/validation_rule.py"
    parser.add_argument("--work", type=Path, default=WORK_DIR, help="the 'before' stores, configs, runs and tables")
    args, command = parse_table_args(parser, argv)
    after_path = args.results / "leaderboard.json"
    if not after_path.exists():
        raise GazslError(f"{after_path}: not found; make the leaderboard first (python -m gazsl.leaderboard ...)")
    after_cells = json.loads(after_path.read_text(encoding="utf-8"))["cells"]
    configs = args.work / "configs"
    for split in args.splits:
        if not split.endswith("_hard"):
            raise GazslError(f"--splits {split}: only hard splits changed their validation rule")
        cell = read_cell(split, args.configs)
        store = random_rule_store(split, args.configs, args.work)
        write_json_atomic(configs / f"{split}.json", {**cell, "store": str(store)})
    methods = sorted({c["method"] for c in after_cells}, key=list(leaderboard.METHODS).index)
    leaderboard_command.main(["--splits", *args.splits, "--seeds", str(args.seeds), "--methods", *methods,
                              "--configs", str(configs), "--runs", str(args.work / "runs"), "--results", str(args.work),
                              "--jobs", str(args.jobs)])
    before_cells = json.loads((args.work / "leaderboard.json").read_text(encoding="utf-8"))["cells"]

    def as_results(cells):
        return {(c["split"], c["method"], c["seed"]): c for c in cells if c["seed"] < args.seeds}

    rows, rhos = [], {}
    for name, cells in (("before: random seen classes", before_cells), ("after: whole families", after_cells)):
        results = as_results(cells)
        for split in args.splits:
            listed = [m for m in methods if (split, m, 0) in results]
            rho = leaderboard.spearman(results, split, listed, args.seeds)
            rhos.setdefault(split, {})[name.split(":")[0]] = rho
            val = {m: leaderboard.seed_mean(results, split, m, "val_top1_per_class", args.seeds) for m in listed}
            test = {m: leaderboard.seed_mean(results, split, m, "zsl_top1", args.seeds) for m in listed}
            ranked = [m for m in listed if not leaderboard.METHODS[m].chosen]
            by_val, by_test = max(ranked, key=val.get), max(ranked, key=test.get)
            chosen = [results[(split, "gazsl_chosen", k)] for k in range(args.seeds)] if "gazsl_chosen" in listed else []
            rows.append(
                f"| {split} | {name} | {rho:+.2f} | {leaderboard.METHODS[by_val].label}: {val[by_val]:.1f} / "
                f"{test[by_val]:.1f} | {leaderboard.METHODS[by_test].label}: {test[by_test]:.1f} | "
                + (f"{mean_std([c['val_top1_per_class'] for c in chosen])} / {mean_std([c['zsl_top1'] for c in chosen])}"
                   if chosen else "") + " |")
    text = (
        f"# Validation that mirrors the split: rank agreement before and after\n\nMade by:\n\n```bash\n{command}\n```\n\n"
        f"Seeds 0..{args.seeds - 1}, the leaderboard's methods ({len(methods)} rows, the chosen row excluded from rho). "
        "rho: Spearman's rank correlation, over methods, between mean validation top-1 per class and mean test top-1 "
        "(per sample, unseen classes). Before and after differ only in the hard splits' validation classes "
        "(the held-out seen images, the unseen classes and every setting are the same).\n\n"
        "| split | validation classes | rho | best on validation: val / test top-1 | best on test: test top-1 | "
        "GAZSL chosen on validation: val / test top-1 |\n|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    write_text_atomic(args.results / "validation_rule.md", text)
    # the leaderboard quotes the "before" figures from here (gazsl.protocols.leaderboard.rank_agreement)
    write_json_atomic(args.results / "validation_rule.json", {"command": command, "seeds": args.seeds, "rho": rhos})
    print(text)
    return 0


if __name__ == "__main__":
    run_cli(main)
