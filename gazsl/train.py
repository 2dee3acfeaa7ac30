"""Train GAZSL on one split, evaluate it, write DIR/metrics.json.

    python -m gazsl.train --split aviary_easy            # honest protocol (default)
    python -m gazsl.train --split cub_easy --preset paper --protocol paper

Protocols
---------
paper   The original evaluation, for comparison: the GAN is trained on all
        seen-class images; every ``eval_every`` iterations from ``eval_start``
        the unseen test set is scored, and both the last evaluation and the best
        one (selected on the test set itself: an oracle) are reported. GZSL uses
        the training images as the seen test set and a grid of calibrations.
honest  Model selection without test data: a GAN trained on the seen classes
        minus the validation classes is scored on the validation classes; the
        best iteration count (and the GZSL calibration) is chosen there; then a
        final GAN is trained on all seen classes for that many iterations and
        scored once on the unseen classes. GZSL seen accuracy is measured on
        held-out images of seen classes that training never sees.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import gazsl
from gazsl import config as config_module
from gazsl import evaluate as ev
from gazsl.config import Config
from gazsl.fast_step import fast_step, make_optimizers
from gazsl.io import GazslError, atomic_path, sha256_file, write_json_atomic
from gazsl.model import Critic, Generator
from gazsl.precision import Precision, resolve as resolve_precision
from gazsl.step import EpochSampler, TrainingData, draw_inputs, reference_step
from gazsl.store import FeatureStore, default_store_path

PROTOCOLS = ("honest", "paper")
# Preset used when --preset is not given: the paper's sizes where the paper's features live.
DEFAULT_PRESET = {"cub": "paper", "nab": "paper"}


def dataset_of(split: str) -> str:
    if "_" not in split:
        raise GazslError(f"unknown split '{split}': split names look like <dataset>_<easy|hard>, e.g. aviary_easy, cub100_hard, cub_easy")
    return split.rsplit("_", 1)[0]


def open_store(split: str, store_path=None) -> FeatureStore:
    dataset = dataset_of(split)
    path = Path(store_path) if store_path else default_store_path(dataset)
    if dataset == "aviary" and not store_path:
        from gazsl.aviary import ensure_aviary

        ensure_aviary(path)  # builds it when missing or made by another version of the generator
    if not path.exists():
        how = {
            "cub100": "python -m gazsl.data build-cub100 --images ../shared/data/cub100",
            "cub": "python -m gazsl.data download --dataset cub  (or import-release --dataset cub --from DIR)",
            "nab": "python -m gazsl.data download --dataset nab  (or import-release --dataset nab --from DIR)",
        }.get(dataset)
        if how is None and store_path:
            raise GazslError(f"{path}: feature store not found (--store)")
        if how is None:
            raise GazslError(f"unknown split '{split}': no feature store {path} (known datasets: aviary, cub100, cub, nab)")
        raise GazslError(f"{path}: feature store for split '{split}' not found; build it with: {how}")
    store = FeatureStore.open(path)
    store.split(split)  # unknown split -> clear error
    return store


class Normaliser:
    """Feature scaling fitted on training images only.

    mean_var: (x - mean) / var with scalar mean and variance, as the original code.
    minmax:   each dimension mapped to [-1, 1], the Tanh output range.
    """

    def __init__(self, kind: str, train: np.ndarray):
        self.kind = kind
        if kind == "mean_var":
            self.shift, self.scale = float(train.mean()), float(train.var())
        else:
            lo, hi = train.min(axis=0), train.max(axis=0)
            self.shift, self.scale = (hi + lo) / 2, np.maximum((hi - lo) / 2, 1e-8)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.shift) / self.scale).astype(np.float32)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GazslError("--device cuda: no CUDA device is available")
    return torch.device(name)


class GazslTrainer:
    """One GAN being trained on ``train_classes`` from the images ``train_images``."""

    def __init__(self, store: FeatureStore, text: np.ndarray, train_classes: np.ndarray,
                 train_images: np.ndarray, config: Config, device: torch.device, seed: int):
        self.config, self.device = config, device
        self.train_classes = np.asarray(train_classes)
        self.normalise = Normaliser(config.feature_norm, store.features[train_images])
        x = torch.from_numpy(self.normalise(store.features[train_images])).to(device)  # (N, D)
        y = torch.from_numpy(local_labels(store.labels[train_images], self.train_classes)).to(device)  # (N,)
        centroids = ev.class_means(x, y, len(self.train_classes))  # (S, D) the visual pivots of the seen classes
        self.text_all = torch.from_numpy(text.astype(np.float32)).to(device)  # (C, T) every class of the store
        self.data = TrainingData(x, y, self.text_all[torch.from_numpy(self.train_classes).to(device)], centroids)

        torch.manual_seed(seed)
        self.netG = Generator(text.shape[1], x.shape[1], config).to(device)
        self.netD = Critic(x.shape[1], len(self.train_classes), config).to(device)
        self.optG, self.optD = make_optimizers(self.netG, self.netD, config)
        self.sampler = EpochSampler(len(y), config.batch_size, seed)
        self.noise = torch.Generator().manual_seed(seed)

    def step(self, log: bool = True) -> dict[str, torch.Tensor]:
        """One iteration; ``log=False`` lets the fast step skip work that only the logged losses need."""
        inputs = draw_inputs(self.sampler, self.config, self.noise, self.device, len(self.train_classes))
        if self.config.fast_step:
            return fast_step(self.netG, self.netD, self.optG, self.optD, self.data, inputs, self.config, log=log)
        return reference_step(self.netG, self.netD, self.optG, self.optD, self.data, inputs, self.config)

    def state_dict(self) -> dict:
        return {
            "netG": self.netG.state_dict(), "netD": self.netD.state_dict(),
            "optG": self.optG.state_dict(), "optD": self.optD.state_dict(),
            "sampler": self.sampler.state_dict(), "noise": self.noise.get_state(),
            "torch_rng": torch.get_rng_state(), "numpy_rng": np.random.get_state(), "python_rng": random.getstate(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.netG.load_state_dict(state["netG"])
        self.netD.load_state_dict(state["netD"])
        self.optG.load_state_dict(state["optG"])
        self.optD.load_state_dict(state["optD"])
        self.sampler.load_state_dict(state["sampler"])
        self.noise.set_state(state["noise"])
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])

    @torch.no_grad()
    def scores(self, features: np.ndarray, classes: np.ndarray, classifier: str, eval_seed: int) -> np.ndarray:
        """Scores (M, len(classes)) of real images against synthetic features of ``classes``."""
        self.netG.eval()
        generator = torch.Generator().manual_seed(eval_seed)
        text = self.text_all[torch.from_numpy(np.asarray(classes)).to(self.device)]
        fake, fake_labels = ev.generate(self.netG, text, self.config.samples_per_class, generator)
        test = torch.from_numpy(self.normalise(features)).to(self.device)
        self.netG.train()
        s = ev.class_scores(classifier, test, fake, fake_labels, len(classes), self.config.knn_k, eval_seed)
        return s.cpu().numpy()


@dataclass
class Phase:
    """One GAN training run of a protocol and what is scored along the way."""

    name: str
    train_classes: np.ndarray
    train_images: np.ndarray
    iterations: int
    evaluate: object  # (trainer, iteration) -> dict of figures
    select_key: str | None = None  # early stopping on this figure (honest selection)
    periodic: bool = True  # evaluate on the schedule; else only after the last iteration
    plan: object = None  # (phases) -> iterations, for a phase whose length an earlier one decides
    history: list = field(default_factory=list)


def local_labels(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    lookup = {int(c): i for i, c in enumerate(classes)}
    return np.array([lookup[int(c)] for c in labels], dtype=np.int64)


def zsl_figures(trainer: GazslTrainer, store: FeatureStore, classes: np.ndarray, images: np.ndarray, seed: int) -> dict:
    scores = trainer.scores(store.features[images], classes, trainer.config.classifier, seed)
    per_sample, per_class = ev.top1(scores.argmax(axis=1), local_labels(store.labels[images], classes))
    return {"zsl_top1": per_sample, "zsl_top1_per_class": per_class}


def gzsl_scores(trainer: GazslTrainer, store: FeatureStore, seen: np.ndarray, unseen: np.ndarray,
                images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores over seen + unseen classes; kNN votes are too coarse to calibrate, so kNN uses the pivots (as the paper)."""
    classes = np.concatenate([seen, unseen])
    classifier = "pivot" if trainer.config.classifier == "knn" else trainer.config.classifier
    scores = trainer.scores(store.features[images], classes, classifier, seed)
    unseen_mask = np.r_[np.zeros(len(seen), bool), np.ones(len(unseen), bool)]
    return scores, local_labels(store.labels[images], classes), unseen_mask


def images_of(store: FeatureStore, classes: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.isin(store.labels, classes))


@dataclass
class HonestSets:
    """The image sets of the honest protocol; every method evaluated under it (gazsl.leaderboard) uses these."""

    fit_classes: np.ndarray  # seen minus validation classes: the selection run trains on them
    fit_images: np.ndarray  # their images but the held-out ones
    fit_heldout: np.ndarray  # held-out images of fit_classes: the selection's GZSL seen test set
    val_images: np.ndarray  # images of the validation classes: the selection's unseen test set
    train_images: np.ndarray  # images of all seen classes but the held-out ones: the final run trains on them
    heldout: np.ndarray  # held-out images of seen classes: the final GZSL seen test set
    unseen_images: np.ndarray  # the final unseen test set


def honest_sets(store: FeatureStore, split) -> HonestSets:
    held_out = np.asarray(split.heldout_images)
    fit_classes = np.setdiff1d(split.seen, split.val)
    return HonestSets(
        fit_classes=fit_classes,
        fit_images=np.setdiff1d(images_of(store, fit_classes), held_out),
        fit_heldout=held_out[np.isin(store.labels[held_out], fit_classes)],
        val_images=images_of(store, split.val),
        train_images=np.setdiff1d(images_of(store, split.seen), held_out),
        heldout=held_out,
        unseen_images=images_of(store, split.unseen),
    )


def build_phases(store: FeatureStore, split_name: str, config: Config, protocol: str) -> tuple[list[Phase], object]:
    """The training runs of a protocol, and a function that turns their histories into metrics."""
    split = store.split(split_name)
    seed = config.seed
    unseen_images = images_of(store, split.unseen)

    if protocol == "paper":
        train_images = images_of(store, split.seen)  # the GZSL "seen" test set is these same images

        def evaluate_paper(trainer, it):
            eval_seed = evaluation_seed(seed, it)
            figures = zsl_figures(trainer, store, split.unseen, unseen_images, eval_seed)
            scores, labels, mask = gzsl_scores(trainer, store, split.seen, split.unseen,
                                               np.concatenate([train_images, unseen_images]), eval_seed)
            curve = ev.gzsl_grid_curve(scores, labels, mask, config.calibration_min, config.calibration_max, config.calibration_step)
            return {"iteration": it, **figures, "ausuc": curve.ausuc(), "curve": curve}

        phase = Phase("paper", split.seen, train_images, config.iterations, evaluate_paper)

        def summarise(phases):
            history = phases[0].history
            if not history:
                raise GazslError(f"no evaluation ran: --iters {config.iterations} is below eval_start {config.eval_start}")
            last, best = history[-1], max(history, key=lambda h: h["zsl_top1"])
            return {
                "zsl_top1": last["zsl_top1"], "zsl_top1_per_class": last["zsl_top1_per_class"], "ausuc": last["ausuc"],
                "zsl_top1_best": best["zsl_top1"], "zsl_top1_per_class_best": best["zsl_top1_per_class"],
                "ausuc_best": max(h["ausuc"] for h in history), "best_iteration": best["iteration"],
                "best_selected_on": "unseen test set (oracle selection, as the original code)",
                "iterations": last["iteration"],
                "curve": last["curve"],
            }

        return [phase], summarise

    # honest protocol
    sets = honest_sets(store, split)
    held_out, fit_classes, fit_images, val_images, fit_heldout = (sets.heldout, sets.fit_classes, sets.fit_images,
                                                                  sets.val_images, sets.fit_heldout)

    def evaluate_selection(trainer, it):
        eval_seed = evaluation_seed(seed, it)
        figures = zsl_figures(trainer, store, split.val, val_images, eval_seed)
        scores, labels, mask = gzsl_scores(trainer, store, fit_classes, split.val,
                                           np.concatenate([fit_heldout, val_images]), eval_seed)
        calibration = ev.best_calibration(ev.gzsl_exact_curve(scores, labels, mask))
        return {"iteration": it, "val_top1": figures["zsl_top1"], "val_top1_per_class": figures["zsl_top1_per_class"],
                "calibration": calibration}

    selection = Phase("select", fit_classes, fit_images, config.iterations, evaluate_selection, select_key="val_top1_per_class")
    all_seen_images = sets.train_images

    def evaluate_final(trainer, it):
        eval_seed = evaluation_seed(seed, it)
        figures = zsl_figures(trainer, store, split.unseen, unseen_images, eval_seed)
        scores, labels, mask = gzsl_scores(trainer, store, split.seen, split.unseen,
                                           np.concatenate([held_out, unseen_images]), eval_seed)
        return {"iteration": it, **figures, "scores": scores, "labels": labels, "mask": mask}

    def best_evaluation(phases):  # the selection run's evaluation with the best validation figure
        return max(phases[0].history, key=lambda h: h[selection.select_key])

    final = Phase("final", split.seen, all_seen_images, 0, evaluate_final, periodic=False,
                  plan=lambda phases: best_evaluation(phases)["iteration"])

    def summarise(phases):
        history = phases[0].history
        if not history:
            raise GazslError(f"no evaluation ran: --iters {config.iterations} is below eval_start {config.eval_start}")
        best = best_evaluation(phases)
        result = phases[1].history[-1]
        curve = ev.gzsl_exact_curve(result["scores"], result["labels"], result["mask"])
        seen, unseen, h = ev.gzsl_at(result["scores"], result["labels"], result["mask"], best["calibration"])
        return {
            "zsl_top1": result["zsl_top1"], "zsl_top1_per_class": result["zsl_top1_per_class"],
            "ausuc": curve.ausuc(), "gzsl_seen": seen, "gzsl_unseen": unseen, "gzsl_h": h,
            "calibration": best["calibration"], "iterations": best["iteration"],
            "val_top1": best["val_top1"], "val_top1_per_class": best["val_top1_per_class"],
            "n_val_classes": len(split.val), "n_heldout_seen_images": len(held_out),
            "curve": curve,
        }
    return [selection, final], summarise


def evaluation_seed(seed: int, it: int) -> int:
    """The generator noise of the evaluation at iteration ``it``: fixed per run and iteration, so a resumed run scores alike."""
    return seed * 1_000_003 + it


def evaluation_due(config: Config, it: int) -> bool:
    return it >= config.eval_start and it % config.eval_every == 0


def run_phase(phase: Phase, trainer: GazslTrainer, out: Path, config: Config, writer, resume: bool) -> None:
    checkpoint = out / f"checkpoint_{phase.name}.pt"
    start, stale, saved = 0, 0, None
    if resume and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        try:
            trainer.load_state_dict(state["trainer"])
            start, phase.history, stale = state["iteration"], state["history"], state["stale"]
            saved, done = start, state.get("stopped")
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as err:
            raise GazslError(f"{checkpoint}: not a checkpoint of this run ({_short(err)}); resume with the options "
                             "it was made with, or delete it to start over") from None
        if done:
            return
    from tqdm import tqdm

    bar = tqdm(range(start + 1, phase.iterations + 1), desc=phase.name, initial=start, total=phase.iterations,
               dynamic_ncols=True, leave=False, disable=None)
    stopped = False
    for it in bar:
        # checked before every checkpoint and evaluation, so neither ever sees a diverged model
        log_now = (it % config.log_every == 0 or it % config.checkpoint_every == 0 or it == phase.iterations
                   or (phase.periodic and evaluation_due(config, it)))
        logs = trainer.step(log=log_now)
        if log_now:
            values = {k: float(v) for k, v in logs.items()}  # the only host sync of a step, at log time
            if not all(math.isfinite(v) for v in values.values()):
                bad = ", ".join(k for k, v in values.items() if not math.isfinite(v))
                raise GazslError(f"training diverged at iteration {it} of phase '{phase.name}' ({bad} not finite); "
                                 f"last good checkpoint kept: " + (f"{checkpoint} (iteration {saved})" if saved is not None else "none yet"))
            bar.set_postfix(W=f"{values['wasserstein']:.3f}", pivot=f"{values['pivot']:.3f}", refresh=False)
            if writer is not None:
                for key, value in values.items():
                    writer.add_scalar(f"{phase.name}/{key}", value, it)
        if it == phase.iterations or (phase.periodic and evaluation_due(config, it)):
            record = phase.evaluate(trainer, it)
            phase.history.append(record)
            if writer is not None:
                for key, value in record.items():
                    if isinstance(value, float):
                        writer.add_scalar(f"{phase.name}/eval_{key}", value, it)
            if phase.select_key:
                best = max(h[phase.select_key] for h in phase.history)
                stale = 0 if record[phase.select_key] >= best else stale + 1
                stopped = config.patience > 0 and stale >= config.patience
        if it % config.checkpoint_every == 0 or it == phase.iterations or stopped:
            save_checkpoint(checkpoint, {"trainer": trainer.state_dict(), "iteration": it, "history": phase.history,
                                         "stale": stale, "stopped": stopped or it == phase.iterations})
            saved = it
        if stopped:
            break
    bar.close()


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a torn or foreign file: tell the user which one
        raise GazslError(f"{path}: unreadable checkpoint, truncated or not a gazsl checkpoint ({_short(err)}); "
                         "delete it to start over") from None


def _short(err: Exception, limit: int = 160) -> str:
    """An exception as one short line: torch's messages run over several long lines."""
    text = f"{type(err).__name__}: {' '.join(str(err).split())}"
    return text if len(text) <= limit else text[:limit] + " ..."


# Settings that may differ when a run is resumed without changing its results.
RESUMABLE_CHANGES = ("device", "checkpoint_every", "log_every")


def finished_run(out: Path, config: Config) -> dict | None:
    """The metrics of the finished run in ``out`` (None if it has none), refused when made with other settings."""
    if not (out / "metrics.json").exists():
        return None
    metrics = json.loads((out / "metrics.json").read_text())
    recorded, expected = config_module.upgrade(metrics.get("config", {})), config.to_dict()
    changed = [k for k, v in expected.items() if k not in RESUMABLE_CHANGES and recorded.get(k) != v]
    if changed:  # a stale run must not stand in for the one asked for
        key = changed[0]
        raise GazslError(f"{out / 'metrics.json'}: a finished run with other settings ({key}: {recorded.get(key)!r}, "
                         f"now {expected[key]!r}); delete {out} to rerun it")
    return metrics


def check_same_run(path: Path, record: dict) -> None:
    """Refuse to resume a run with other settings: its metrics would mix two runs under the new settings' name."""
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
        # "precision" is the decision of bf16 'auto', reused on resume rather than compared
        old = {**{k: v for k, v in before.items() if k not in ("config", "precision")},
               **config_module.upgrade(before["config"])}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise GazslError(f"{path}: unreadable record of the run to resume ({_short(err)})") from None
    new = {**{k: v for k, v in record.items() if k != "config"}, **record["config"]}
    changed = [k for k in sorted(old.keys() | new.keys()) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k)]
    if changed:
        k = changed[0]
        raise GazslError(f"{path}: --resume with other settings than the run in this folder ({k}: {old.get(k)!r} -> "
                         f"{new.get(k)!r}); use the same options, or another --out")


def provenance(store: FeatureStore) -> dict:
    return {
        "versions": {"gazsl": gazsl.__version__, "python": platform.python_version(), "torch": torch.__version__,
                     "numpy": np.__version__},
        "data": {"store": str(store.path), "store_sha256": sha256_file(store.path)},
    }


def train(split: str, config: Config, out: Path, protocol: str = "honest", preset: str = "cpu",
          store_path=None, resume: bool = False) -> dict:
    """Run a protocol end to end; returns the metrics also written to out/metrics.json."""
    if protocol not in PROTOCOLS:
        raise GazslError(f"unknown protocol '{protocol}' (available: {', '.join(PROTOCOLS)})")
    out = Path(out)
    if not resume and any(out.glob("checkpoint_*.pt")):
        raise GazslError(f"{out}: holds checkpoints of an earlier run; pass --resume to continue it or choose another --out")
    started = time.time()
    store = open_store(split, store_path)
    text = store.text(config.text).vectors
    device = resolve_device(config.device)
    random.seed(config.seed)
    np.random.seed(config.seed)
    out.mkdir(parents=True, exist_ok=True)
    record = {"split": split, "protocol": protocol, "preset": preset, "config": config.to_dict()}
    recorded = None
    if resume and (out / "config.json").exists():
        check_same_run(out / "config.json", record)
        recorded = Precision.from_record(json.loads((out / "config.json").read_text(encoding="utf-8"))
                                         .get("precision", {}))
    # bf16 'auto' may time a probe, which can decide otherwise on another machine: a resumed run keeps its decision
    precision = recorded or resolve_precision(config.bf16, device, config.batch_size, store.features.shape[1],
                                              config.critic_hidden)
    record["precision"] = precision.to_dict()
    write_json_atomic(out / "config.json", record)
    writer = _tensorboard(out)

    phases, summarise = build_phases(store, split, config, protocol)
    for phase in phases:
        if phase.plan is not None:
            phase.iterations = phase.plan(phases)
        trainer = GazslTrainer(store, text, phase.train_classes, phase.train_images,
                               config.replace(bf16=precision.setting), device, config.seed)
        run_phase(phase, trainer, out, config, writer, resume)
    if writer is not None:
        writer.close()

    summary = summarise(phases)
    curve = summary.pop("curve")
    write_json_atomic(out / "gzsl_curve.json", {"seen": curve.seen, "unseen": curve.unseen})
    split_info = store.split(split)
    metrics = {
        "split": split, "seed": config.seed, "protocol": protocol, "preset": preset,
        "classifier": config.classifier, "text": config.text,
        "n_seen_classes": len(split_info.seen), "n_unseen_classes": len(split_info.unseen),
        **summary, "seconds": round(time.time() - started, 1), "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        **precision.to_dict(), "config": config.to_dict(), **provenance(store),
    }
    write_json_atomic(out / "metrics.json", metrics)
    return metrics


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is a dependency, but a broken install should not stop training
        return None
    return SummaryWriter(str(out / "tb"))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gazsl.train", description="Train and evaluate GAZSL on one split.")
    parser.add_argument("--split", default="aviary_easy", help="e.g. aviary_easy, aviary_hard, cub100_easy, cub_easy, nab_hard")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iters", type=int, help="training iterations (honest: the most the selection run may use)")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<split>-<protocol>-seed<seed>)")
    parser.add_argument("--config", type=Path, help="JSON file of Config fields overriding the preset")
    parser.add_argument("--preset", choices=sorted(config_module.PRESETS), help="paper or cpu (default: paper for cub/nab, else cpu)")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="honest")
    parser.add_argument("--text", help="text vectors of the store to condition on (default: tfidf)")
    parser.add_argument("--classifier", choices=config_module.KNOWN_CLASSIFIERS, help="final classifier (default: knn)")
    parser.add_argument("--store", type=Path, help="feature store (default: features/<dataset>.h5)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--bf16", choices=config_module.KNOWN_BF16,
                        help="bf16 products (default auto: where this device multiplies bf16 faster; gazsl/precision.py)")
    parser.add_argument("--checkpoint-every", type=int)
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    return parser.parse_args(argv)


def config_from_args(args) -> tuple[Config, str]:
    preset_name = args.preset or DEFAULT_PRESET.get(dataset_of(args.split), "cpu")
    config = config_module.preset(preset_name)
    if args.config:
        config = config_module.load(args.config, config)
    overrides = {"seed": args.seed, "iterations": args.iters, "text": args.text, "classifier": args.classifier,
                 "device": args.device, "checkpoint_every": args.checkpoint_every, "bf16": args.bf16}
    config = config_module.from_mapping(config, {k: v for k, v in overrides.items() if v is not None}, "command line")
    return config, preset_name


def main(argv=None) -> int:
    args = parse_args(argv)
    config, preset_name = config_from_args(args)
    out = args.out or Path("runs") / f"{args.split}-{args.protocol}-seed{config.seed}"
    metrics = train(args.split, config, out, args.protocol, preset_name, args.store, args.resume)
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
