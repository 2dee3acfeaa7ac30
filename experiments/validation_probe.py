"""Validation only: how GAZSL settings do on a split's validation classes, every classifier, several seeds.

    python experiments/validation_probe.py --split cub100_hard --seeds 3 --jobs 2 \\
        --set text_l21=1e-3 --set pivot_weight=3
        # -> experiments/results/validation_probe_cub100_hard.md

Each setting (the split's experiment config as it is, then with each ``--set``:
one or more comma-separated ``field=value`` Config changes) is trained as the
honest protocol's selection run (``gazsl.protocols.protocol.build_runs``):
on the seen classes minus the validation classes, scored on the validation
classes every ``eval_every`` iterations, each classifier stopping early on its
own figure. The table gives each classifier's chosen validation top-1 per class,
mean ± std over seeds, and its change from the config as it is. Unseen classes
and held-out images are never scored, so the table says what a setting promises
before any test run, and nothing about the test. Results are kept per run under
runs/validation_probe/ and reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from gazsl.generator import config as config_module
from gazsl.io import GazslError, run_cli, write_json_atomic, write_text_atomic
from gazsl.protocols.cells import CONFIG_DIR, RESULTS_DIR, load_cell, run_cells
from gazsl.protocols.protocol import CLASSIFIERS, SELECT_KEY
from gazsl.protocols.tables import mean_std

RUNS = Path("runs/validation_probe")


def parse_setting(text: str, source: str) -> dict:
    """``"text_l21=1e-3,pivot_weight=3"`` -> {"text_l21": 0.001, "pivot_weight": 3}; values are JSON, else strings."""
    setting = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise GazslError(f"{source}: expected field=value[,field=value...], got {text!r}")
        try:
            setting[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            setting[key.strip()] = value.strip()
    return setting


def parse_probe_arguments(parser, argv, seeds: int, runs: Path):
    """The options a probe of settings shares (seeds, --set, where configs, runs and results are, jobs), parsed."""
    parser.add_argument("--seeds", type=int, default=seeds, help="seeds 0..N-1")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE[,...]")
    parser.add_argument("--configs", type=Path, default=CONFIG_DIR)
    parser.add_argument("--runs", type=Path, default=runs)
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.seeds < 1:
        raise GazslError("--seeds must be at least 1")
    return args


def prepared_selection(split: str, setting_json: str, seed: int, runs_dir: Path, config_dir: Path,
                       threads: int | None = None, extra: dict | None = None):
    """What the selection run of a setting needs: (the path its record is kept at, preset, config, store, the data's
    checksum); ``extra``: Config changes beside the setting's (e.g. the text)."""
    import torch

    from gazsl.datasets.stores import open_store

    if threads:
        torch.set_num_threads(threads)
    preset, config, store_path = load_cell(split, config_dir)
    config = config_module.from_mapping(config, {**json.loads(setting_json), **(extra or {}), "seed": seed},
                                        f"--set {setting_json}")
    store = open_store(split, store_path)
    inputs = store.inputs_sha256(split, config.text)
    key = hashlib.sha256(json.dumps([inputs, preset, config.to_dict(), torch.__version__, torch.get_num_threads()],
                                    sort_keys=True).encode()).hexdigest()
    return runs_dir / split / f"{key[:16]}.json", preset, config, store, inputs


def chosen_figures(selection, config) -> dict:
    """{classifier: {"val_top1_per_class", "iteration"}} that each classifier's early stopping chose in a selection
    run that has run."""
    from gazsl.generator.trainer import early_stops

    return {c: {SELECT_KEY: record["by_classifier"][c][SELECT_KEY], "iteration": record["iteration"]}
            for c, (record, _) in early_stops(selection.history, selection.watch, config.patience).items()}


def selection_run(split: str, setting_json: str, seed: int, runs_dir: Path, config_dir: Path,
                  threads: int | None = None) -> dict:
    """The record of one selection run, its ``figures`` {classifier: {"val_top1_per_class", "iteration"}} with its
    settings, data checksum and versions; a ``run_cells`` runner, reused when kept."""
    import torch

    from gazsl.generator.trainer import run_phase
    from gazsl.protocols.protocol import build_runs

    kept, preset, config, store, inputs = prepared_selection(split, setting_json, seed, runs_dir, config_dir, threads)
    if kept.exists():
        return json.loads(kept.read_text(encoding="utf-8"))
    text = store.text(config.text).vectors
    run = build_runs(store, split, config, "honest")[0][0]
    selection, model = run.phase, run.model(config, text, store)
    run_phase(selection, model)
    record = {"split": split, "setting": json.loads(setting_json), "seed": seed, "preset": preset,
              "config": config.to_dict(), "inputs_sha256": inputs, "device": str(model.device_),
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "figures": chosen_figures(selection, config)}
    write_json_atomic(kept, record)
    return record


def table(split: str, settings: list[dict], runs: dict[tuple, dict], seeds: int) -> str:
    """One row per setting: each classifier's mean ± std validation figure and its change from the first setting."""
    def values(setting, classifier):
        return [runs[(split, json.dumps(setting, sort_keys=True), seed)]["figures"][classifier][SELECT_KEY]
                for seed in range(seeds)]

    lines = ["| setting | " + " | ".join(CLASSIFIERS) + " |", "|---" * (1 + len(CLASSIFIERS)) + "|"]
    for setting in settings:
        cells = []
        for c in CLASSIFIERS:
            cell = mean_std(values(setting, c))
            if setting is not settings[0]:
                cell += f" ({np.mean(values(setting, c)) - np.mean(values(settings[0], c)):+.1f})"
            cells.append(cell)
        name = ", ".join(f"{k}={v}" for k, v in setting.items()) or "the experiment config"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse
    import shlex
    import sys

    parser = argparse.ArgumentParser(prog="experiments/validation_probe.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", required=True)
    args = parse_probe_arguments(parser, argv, seeds=3, runs=RUNS)
    _, base, _ = load_cell(args.split, args.configs)
    settings = [{}] + [parse_setting(s, "--set") for s in args.settings]
    for setting in settings:  # a bad field or value fails here, before any training
        config_module.from_mapping(base, setting, f"--set {','.join(f'{k}={v}' for k, v in setting.items())}")
    cells = [(args.split, json.dumps(s, sort_keys=True), seed) for s in settings for seed in range(args.seeds)]
    runs = run_cells(cells, args.runs, args.configs, args.jobs, run=selection_run)
    made_on = sorted({f"{r['device']}, torch {r['torch']}, {r['threads']} thread(s)" for r in runs.values()})
    command = "python experiments/validation_probe.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = "\n".join([
        f"# Validation probe on {args.split}", "", f"Made by: `{command}`", "",
        f"Honest selection runs of the experiment config (`{args.configs / args.split}.json`) and of each setting, "
        f"seeds 0..{args.seeds - 1}: each classifier's validation top-1 per class (%) at the iteration its early "
        "stopping chose, mean ± std over seeds, and in brackets its change from the config as it is. Validation "
        "classes only: these figures say what a setting promises before any test run, not how it does on the test.",
        f"Made on: {'; '.join(made_on)}.", "", table(args.split, settings, runs, args.seeds), "",
    ])
    write_text_atomic(args.results / f"validation_probe_{args.split}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    run_cli(main)
