"""A protocol run end to end (``python -m gazsl.train`` calls it): train the phases, score, save model and metrics.

The protocols are described in ``gazsl.protocols.protocol``; a run folder's files in ``gazsl.protocols.runs``.
A finished run leaves ``DIR/metrics.json`` and the trained model, ``DIR/model.gazsl``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

from gazsl.generator.config import Config
from gazsl.documents.encoders import recorded_encoder
from gazsl.generator.gan import Unavailable, classifiers_note, gzsl_classifier
from gazsl.generator.precision import Precision, cpu_name, resolve as resolve_precision
from gazsl.generator.trainer import resolve_device, run_phase
from gazsl.datasets.stores import open_store
from gazsl.store.feature_store import FeatureStore
from gazsl.vision.backbone import recorded_backbone
from gazsl.interrupt import StopRequest, stop_on_signals
from gazsl.io import GazslError, exclusive_lock, write_json_atomic
from gazsl.progress import Progress
from gazsl.protocols.protocol import PROTOCOLS, Run, build_runs
from gazsl.protocols.runs import RUN_KEYS, check_resumable, check_same_run, provenance, run_record, tensorboard_writer

MODEL_FILE = "model.gazsl"


def train(split: str, config: Config, out: Path, protocol: str = "honest", preset: str = "cpu",
          store_path=None, resume: bool = False, store: FeatureStore | None = None,
          val_folds: list[np.ndarray] | None = None) -> dict:
    """Run a protocol end to end; returns the metrics also written to out/metrics.json, beside the model (out/model.gazsl).

    ``store``: an opened store that holds ``split`` (the benchmark's folds live in memory), instead of opening one;
    ``val_folds``: the honest protocol's validation folds (``gazsl.protocols.protocol.build_runs``).
    """
    if protocol not in PROTOCOLS:
        raise GazslError(f"unknown protocol '{protocol}' (available: {', '.join(PROTOCOLS)})")
    started = time.time()
    if resume:
        check_resumable(out)
    store = store or open_store(split, store_path)  # bad input stops here, before a run folder exists
    text = store.text(config.text).vectors
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out / ".lock", f"run folder {out}"), stop_on_signals() as stop:
        return _train_locked(split, config, out, protocol, preset, store, text, resume, stop, started, val_folds)


def _train_locked(split: str, config: Config, out: Path, protocol: str, preset: str, store: FeatureStore,
                  text: np.ndarray, resume: bool, stop: StopRequest, started: float, val_folds) -> dict:
    if not resume and any(out.glob("checkpoint_*.pt")):
        raise GazslError(f"{out}: holds checkpoints of an earlier run; pass --resume to continue it or choose another --out")
    device = resolve_device(config.device)
    threads = torch.get_num_threads()
    record = {**run_record(split, protocol, preset, config, store), "threads": threads}
    recorded = None
    if resume and (out / "config.json").exists():
        recorded = Precision.from_record(check_same_run(out / "config.json", record).get("precision", {}))
    # bf16 'auto' may time a probe, which can decide otherwise on another machine: a resumed run keeps its decision
    precision = recorded or resolve_precision(config.bf16, device, config.batch_size, store.features.shape[1],
                                              config.critic_hidden)
    record["precision"] = precision.to_dict()
    write_json_atomic(out / "config.json", record)
    writer = tensorboard_writer(out)

    runs, summarise = build_runs(store, split, config, protocol, val_folds)
    text_encoder, image_backbone = _recorded(recorded_encoder, store, config.text), _recorded(recorded_backbone, store)
    print(f"{out}: {phase_plan(protocol, runs)}", file=sys.stderr, flush=True)
    try:
        for k, run in enumerate(runs, 1):
            phase = run.phase
            model = run.model(config.replace(bf16=precision.setting), text, store, text_encoder=text_encoder,
                              image_backbone=image_backbone)
            label = f"{phase.name} (phase {k} of {len(runs)})"  # a new bar says which phase it counts, not a restart
            run_phase(phase, model, out, writer, resume, stop,
                      progress=lambda done, total: Progress(label, total, done))
    finally:
        if writer is not None:
            writer.close()

    summary = summarise()
    curve = summary.pop("curve")
    kept = runs[-1].phase.kept  # the honest protocol's model, at its classifier's iteration count
    if kept is not None:
        model.generator_.load_state_dict(kept["generator"])
        model.n_iter_ = kept["n_iter"]
    write_json_atomic(out / "gzsl_curve.json", {"seen": curve.seen, "unseen": curve.unseen})
    split_info = store.split(split)
    metrics = {
        **{k: record[k] for k in RUN_KEYS}, "seed": config.seed,
        "classifier": config.classifier, "gzsl_classifier": gzsl_classifier(config.classifier),
        "classifiers_note": classifiers_note(config.classifier), "text": config.text,
        "n_seen_classes": len(split_info.seen), "n_unseen_classes": len(split_info.unseen),
        **summary, "seconds": round(time.time() - started, 1), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(), "threads": threads,
        **precision.to_dict(), "config": record["config"], **provenance(store),
    }
    model.gzsl_calibration_ = summary.get("calibration")  # honest protocol: chosen on validation classes
    model.temperature_, model.gzsl_temperature_ = summary.get("temperature"), summary.get("gzsl_temperature")  # likewise
    model.metrics_ = metrics
    model.save(out / MODEL_FILE)
    write_json_atomic(out / "metrics.json", metrics)  # last: a run is finished when its metrics exist
    return metrics


def phase_plan(protocol: str, runs: list[Run]) -> str:
    """The runs ahead, said before the first: the honest protocol trains twice, and only the first run's length is
    known in advance (the final run's is chosen by it, and is at most as long)."""
    if protocol == "paper":
        (run,) = runs
        return f"paper protocol: one run on {len(run.classes)} classes ({run.phase.iterations} iterations)"
    *selections, final = runs
    sizes = "/".join(str(n) for n in sorted({len(r.classes) for r in selections}))
    count = "selection run" if len(selections) == 1 else f"{len(selections)} selection runs (one per validation fold)"
    return (f"honest protocol: {count} on {sizes} classes (up to {selections[0].phase.iterations} iterations), then "
            f"final run on {len(final.classes)} classes to the iteration count the selection chooses (at most as many)")


def _recorded(rebuild, store: FeatureStore, *args):
    """The store's text encoder or image backbone; where it has none, a stand-in that says why when used."""
    try:
        return rebuild(store, *args)
    except GazslError as err:
        return Unavailable(str(err))
