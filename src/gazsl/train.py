"""Train GAZSL on one split under a protocol, evaluate it, leave its metrics and model in a run folder.

    python -m gazsl.train --split aviary_easy            # honest protocol (default)
    python -m gazsl.train --split cub_easy --preset paper --protocol paper

The run itself is ``gazsl.protocols.training.train``; the protocols are described in ``gazsl.protocols.protocol``,
a run folder's files in ``gazsl.protocols.runs``. A finished run leaves ``DIR/metrics.json`` and the trained
model, ``DIR/model.gazsl`` (``gazsl.generator.gan.GAZSL.load``, ``python -m gazsl.predict``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from gazsl.generator import config as config_module
from gazsl.generator.config import Config
from gazsl.datasets.stores import dataset_of
from gazsl.store.feature_store import FeatureStore, default_store_path
from gazsl.interrupt import Interrupted
from gazsl.io import readable_path, writable_dir
from gazsl.protocols.protocol import PROTOCOLS
from gazsl.protocols.runs import check_resumable
from gazsl.protocols.training import train

# Preset used when --preset is not given: the paper's sizes where the paper's features live.
DEFAULT_PRESET = {"cub": "paper", "nab": "paper"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gazsl.train", description="Train and evaluate GAZSL on one split.")
    parser.add_argument("--split", default="aviary_easy", help="e.g. aviary_easy, aviary_hard, cub100_easy, cub_easy, nab_hard")
    parser.add_argument("--seed", type=int, help="default: the config's seed (0 in the presets)")
    parser.add_argument("--iters", type=int, help="training iterations (honest: the most the selection run may use)")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<split>-<protocol>-seed<seed>)")
    parser.add_argument("--config", type=Path, help="JSON file of Config fields overriding the preset, or an experiment "
                        "config (its overrides are taken), e.g. one written by gazsl.tune --best-config")
    parser.add_argument("--preset", choices=sorted(config_module.PRESETS), help="paper, cpu or descriptions (cpu with a 10x visual pivot and 1200 iterations, for text that describes appearance; default: paper for cub/nab, else cpu)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="honest")
    parser.add_argument("--text", help="text vectors of the store to condition on (default: the store's own choice: "
                        "gazsl_tfidf for a GAZSL release, tfidf otherwise)")
    parser.add_argument("--classifier", choices=config_module.KNOWN_CLASSIFIERS, help="final classifier (default: knn)")
    parser.add_argument("--store", type=Path, help="feature store (default: features/<dataset>.h5)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--bf16", choices=config_module.KNOWN_BF16,
                        help="bf16 products (default auto: where this device multiplies bf16 faster; gazsl/generator/precision.py)")
    parser.add_argument("--checkpoint-every", type=int)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    return parser.parse_args(argv)


def default_text(split: str, store_path=None) -> str:
    """The text vectors a store trains on unless told otherwise: its own choice (a GAZSL release: its TF-IDF matrix,
    ``gazsl_tfidf``), else the preset's ``tfidf``. Reads the store's info only: the run opens the store itself."""
    path = store_path or default_store_path(dataset_of(split))
    return FeatureStore.read_info(path).get("default_text", Config.text)


def config_from_args(args) -> tuple[Config, str]:
    """Preset, then the store's default text (unless --text), then --config, then the other flags."""
    preset_name = args.preset or DEFAULT_PRESET.get(dataset_of(args.split), "cpu")
    config = config_module.preset(preset_name)
    if args.text is None:
        config = config.replace(text=default_text(args.split, args.store))
    if args.config:
        config = config_module.load(args.config, config)
    overrides = {"seed": args.seed, "iterations": args.iters, "text": args.text, "classifier": args.classifier,
                 "device": args.device, "checkpoint_every": args.checkpoint_every, "bf16": args.bf16}
    config = config_module.from_mapping(config, {k: v for k, v in overrides.items() if v is not None}, "command line")
    return config, preset_name


def resume_command(argv: list[str], out: Path) -> str:
    """The command line that continues the run of ``argv`` in ``out``."""
    args = list(argv)
    if "--out" not in args and not any(a.startswith("--out=") for a in args):
        args += ["--out", str(out)]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(["python", "-m", "gazsl.train", *args])


def summary_line(split: str, seed: int, protocol: str, metrics: dict, path: Path) -> str:
    """A finished run in one line a person reads: every figure in percent, top-1 beside chance (a uniform guess among
    the unseen classes), and what the iteration count is."""
    chance = 100 / metrics["n_unseen_classes"]
    figures = (f"top-1 {metrics['zsl_top1']:.1f}% (chance {chance:.1f}%; per class {metrics['zsl_top1_per_class']:.1f}%), "
               f"AUSUC {100 * metrics['ausuc']:.1f}%")
    if protocol == "paper":
        figures += (f"; best {metrics['zsl_top1_best']:.1f}% at iteration {metrics['best_iteration']} (oracle: chosen on "
                    f"the unseen test classes); {metrics['iterations']} generator iterations, the last reported")
    else:
        figures += (f", H {metrics['gzsl_h']:.1f}% (seen {metrics['gzsl_seen']:.1f}%, unseen {metrics['gzsl_unseen']:.1f}%); "
                    f"{metrics['iterations']} generator iterations, chosen on validation classes")
    return (f"{split} seed {seed}, {protocol} protocol: {figures}; bf16 {'on' if metrics['bf16'] else 'off'}, "
            f"{metrics['seconds']:.0f} s -> {path}")


def main(argv=None) -> int:
    args = parse_args(argv)
    # every path checked before any work, so that a bad one costs one line, not a run
    if args.store is not None and args.store.exists():  # a missing store: open_store says how to build it
        readable_path(args.store, "feature store (--store)")
    if args.config is not None:
        readable_path(args.config, "config file (--config)")
    config, preset_name = config_from_args(args)
    out = args.out or Path("runs") / f"{args.split}-{args.protocol}-seed{config.seed}"
    if args.resume:  # before the write check, whose probe file would touch the folder
        check_resumable(out)
    out = writable_dir(out, "run folder (--out)")
    try:
        metrics = train(args.split, config, out, args.protocol, preset_name, args.store, args.resume)
    except Interrupted as stop:
        command = resume_command(sys.argv[1:] if argv is None else argv, out)
        print(f"{stop}; resume with: {command}", file=sys.stderr)
        return stop.exit_code
    print(summary_line(args.split, config.seed, args.protocol, metrics, out / "metrics.json"))
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
