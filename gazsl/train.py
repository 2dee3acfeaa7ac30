"""Train GAZSL on one split under a protocol, evaluate it, leave its metrics and model in a run folder.

    python -m gazsl.train --split aviary_easy            # honest protocol (default)
    python -m gazsl.train --split cub_easy --preset paper --protocol paper

The protocols are described in ``gazsl.protocols.protocol``; a run folder's files in
``gazsl.protocols.runs``. A finished run leaves ``DIR/metrics.json`` and the trained
model, ``DIR/model.gazsl`` (``gazsl.generator.gan.GAZSL.load``, ``python -m gazsl.predict``).
"""

from __future__ import annotations

import argparse
import json
import random
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from gazsl import config as config_module
from gazsl.config import Config
from gazsl.images.datasets import dataset_of, open_store
from gazsl.generator.gan import GAZSL, Unavailable, gzsl_classifier
from gazsl.interrupt import Interrupted, StopRequest, stop_on_signals
from gazsl.io import GazslError, exclusive_lock, write_json_atomic
from gazsl.generator.precision import Precision, resolve as resolve_precision
from gazsl.protocols.protocol import PROTOCOLS, build_phases, local_labels
from gazsl.protocols.runs import RUN_KEYS, check_same_run, provenance, run_record, tensorboard_writer
from gazsl.images.store import FeatureStore
from gazsl.documents.encoders import recorded_encoder
from gazsl.generator.trainer import resolve_device, run_phase
from gazsl.images.vision import recorded_backbone

# Preset used when --preset is not given: the paper's sizes where the paper's features live.
DEFAULT_PRESET = {"cub": "paper", "nab": "paper"}
MODEL_FILE = "model.gazsl"


def train(split: str, config: Config, out: Path, protocol: str = "honest", preset: str = "cpu",
          store_path=None, resume: bool = False) -> dict:
    """Run a protocol end to end; returns the metrics also written to out/metrics.json, beside the model (out/model.gazsl)."""
    if protocol not in PROTOCOLS:
        raise GazslError(f"unknown protocol '{protocol}' (available: {', '.join(PROTOCOLS)})")
    started = time.time()
    store = open_store(split, store_path)  # bad input stops here, before a run folder exists
    text = store.text(config.text).vectors
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out / ".lock", f"run folder {out}"), stop_on_signals() as stop:
        return _train_locked(split, config, out, protocol, preset, store, text, resume, stop, started)


def _train_locked(split: str, config: Config, out: Path, protocol: str, preset: str, store: FeatureStore,
                  text: np.ndarray, resume: bool, stop: StopRequest, started: float) -> dict:
    if not resume and any(out.glob("checkpoint_*.pt")):
        raise GazslError(f"{out}: holds checkpoints of an earlier run; pass --resume to continue it or choose another --out")
    device = resolve_device(config.device)
    random.seed(config.seed)
    np.random.seed(config.seed)
    threads = torch.get_num_threads()
    record = {**run_record(split, protocol, preset, config, store), "threads": threads}
    recorded = None
    if resume and (out / "config.json").exists():
        check_same_run(out / "config.json", record)
        recorded = Precision.from_record(json.loads((out / "config.json").read_text(encoding="utf-8")).get("precision", {}))
    # bf16 'auto' may time a probe, which can decide otherwise on another machine: a resumed run keeps its decision
    precision = recorded or resolve_precision(config.bf16, device, config.batch_size, store.features.shape[1],
                                              config.critic_hidden)
    record["precision"] = precision.to_dict()
    write_json_atomic(out / "config.json", record)
    writer = tensorboard_writer(out)

    phases, summarise = build_phases(store, split, config, protocol)
    text_encoder, image_backbone = _recorded(recorded_encoder, store, config.text), _recorded(recorded_backbone, store)
    try:
        for phase in phases:
            if phase.plan is not None:
                phase.iterations = phase.plan(phases)
            model = GAZSL(config.replace(bf16=precision.setting), text_encoder=text_encoder, image_backbone=image_backbone).initialise(
                text[phase.train_classes], store.features[phase.train_images],
                local_labels(store.labels[phase.train_images], phase.train_classes),
                [store.class_names[c] for c in phase.train_classes])
            run_phase(phase, model, out, writer, resume, stop)
    finally:
        if writer is not None:
            writer.close()

    summary = summarise(phases)
    curve = summary.pop("curve")
    write_json_atomic(out / "gzsl_curve.json", {"seen": curve.seen, "unseen": curve.unseen})
    split_info = store.split(split)
    metrics = {
        **{k: record[k] for k in RUN_KEYS}, "seed": config.seed,
        "classifier": config.classifier, "gzsl_classifier": gzsl_classifier(config.classifier), "text": config.text,
        "n_seen_classes": len(split_info.seen), "n_unseen_classes": len(split_info.unseen),
        **summary, "seconds": round(time.time() - started, 1), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None, "threads": threads,
        **precision.to_dict(), "config": record["config"], **provenance(store),
    }
    model.gzsl_calibration_ = summary.get("calibration")  # honest protocol: chosen on validation classes
    model.metrics_ = metrics
    model.save(out / MODEL_FILE)
    write_json_atomic(out / "metrics.json", metrics)  # last: a run is finished when its metrics exist
    return metrics


def _recorded(rebuild, store: FeatureStore, *args):
    """The store's text encoder or image backbone; where it has none, a stand-in that says why when used."""
    try:
        return rebuild(store, *args)
    except GazslError as err:
        return Unavailable(str(err))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gazsl.train", description="Train and evaluate GAZSL on one split.")
    parser.add_argument("--split", default="aviary_easy", help="e.g. aviary_easy, aviary_hard, cub100_easy, cub_easy, nab_hard")
    parser.add_argument("--seed", type=int, help="default: the config's seed (0 in the presets)")
    parser.add_argument("--iters", type=int, help="training iterations (honest: the most the selection run may use)")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<split>-<protocol>-seed<seed>)")
    parser.add_argument("--config", type=Path, help="JSON file of Config fields overriding the preset, or an experiment "
                        "config (its overrides are taken), e.g. one written by gazsl.tune --best-config")
    parser.add_argument("--preset", choices=sorted(config_module.PRESETS), help="paper or cpu (default: paper for cub/nab, else cpu)")
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


def default_text(store: FeatureStore) -> str:
    """The text vectors a store trains on unless told otherwise: its own choice (a GAZSL release: its TF-IDF matrix,
    ``gazsl_tfidf``), else the preset's ``tfidf``."""
    return store.info.get("default_text", Config.text)


def config_from_args(args) -> tuple[Config, str]:
    """Preset, then the store's default text (unless --text), then --config, then the other flags."""
    preset_name = args.preset or DEFAULT_PRESET.get(dataset_of(args.split), "cpu")
    config = config_module.preset(preset_name)
    if args.text is None:
        config = config.replace(text=default_text(open_store(args.split, args.store)))
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


def main(argv=None) -> int:
    args = parse_args(argv)
    config, preset_name = config_from_args(args)
    out = args.out or Path("runs") / f"{args.split}-{args.protocol}-seed{config.seed}"
    try:
        metrics = train(args.split, config, out, args.protocol, preset_name, args.store, args.resume)
    except Interrupted as stop:
        command = resume_command(sys.argv[1:] if argv is None else argv, out)
        print(f"{stop}; resume with: {command}", file=sys.stderr)
        return stop.exit_code
    extra = (f" best(oracle)={metrics['zsl_top1_best']:.1f}%" if args.protocol == "paper"
             else f" H={metrics['gzsl_h']:.1f}% (seen {metrics['gzsl_seen']:.1f}, unseen {metrics['gzsl_unseen']:.1f})")
    print(f"{args.split} seed={config.seed} protocol={args.protocol} iters={metrics['iterations']} "
          f"zsl_top1={metrics['zsl_top1']:.1f}% per_class={metrics['zsl_top1_per_class']:.1f}% "
          f"ausuc={metrics['ausuc']:.3f}{extra} bf16={'on' if metrics['bf16'] else 'off'} ({metrics['seconds']:.0f}s) "
          f"-> {out / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
