"""Training a GAZSL generator: the training state, and the one loop every training goes through.

``GazslTrainer`` holds what training changes (the generator, the critic, their
optimisers, the batch order and the noise streams) and runs one iteration at a
time. ``run_phase`` is the loop around it: a plain ``GAZSL.fit`` runs it
without evaluations or checkpoints; each run of a protocol (``gazsl.protocols.protocol``,
``gazsl.train``) with its evaluations, early stopping, checkpoints, resumption
and a clear stop on divergence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gazsl.scoring import evaluate as ev
from gazsl.generator.config import Config, RunSettings
from gazsl.generator.checkpoint import load_checkpoint, save_checkpoint
from gazsl.generator.fast_step import fast_step, make_optimizers
from gazsl.interrupt import Interrupted, StopRequest
from gazsl.io import GazslError, one_line
from gazsl.generator.model import Critic, Generator, owned_tensor
from gazsl.generator.step import EpochSampler, TrainingData, draw_inputs, reference_step
from gazsl.progress import Silent


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GazslError("--device cuda: no CUDA device is available")
    return torch.device(name)


class GazslTrainer:
    """One GAN being trained on the text ``text_seen`` (S, T) of its classes and normalised image features.

    features (N, D) are already normalised; labels (N,) index the rows of ``text_seen``.
    """

    def __init__(self, text_seen: np.ndarray, features: np.ndarray, labels: np.ndarray, config: Config,
                 device: torch.device, seed: int):
        self.config, self.device, self.n_classes = config, device, len(text_seen)
        self.model = config.model  # what the networks and the reference step see; the fast step also reads precision
        x = owned_tensor(features, device)  # (N, D)
        y = owned_tensor(labels, device)  # (N,)
        centroids = ev.class_means(x, y, self.n_classes)  # (S, D) the visual pivots of the seen classes
        self.data = TrainingData(x, y, owned_tensor(text_seen, device), centroids)

        # torch's layers draw their initial weights from its global generator: seeded here within a fork of it,
        # so that the weights depend on ``seed`` alone and the caller's global state is left as it was
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.netG = Generator(text_seen.shape[1], x.shape[1], self.model).to(device)
            self.netD = Critic(x.shape[1], self.n_classes, self.model).to(device)
        self.optG, self.optD = make_optimizers(self.netG, self.netD, self.model)
        self.sampler = EpochSampler(len(y), config.batch_size, seed)
        self.noise = torch.Generator().manual_seed(seed)

    def step(self, log: bool = True) -> dict[str, torch.Tensor]:
        """One iteration; ``log=False`` lets the fast step skip work that only the logged losses need."""
        inputs = draw_inputs(self.sampler, self.model, self.noise, self.device, self.n_classes)
        if self.config.fast_step:
            return fast_step(self.netG, self.netD, self.optG, self.optD, self.data, inputs, self.config, log=log)
        return reference_step(self.netG, self.netD, self.optG, self.optD, self.data, inputs, self.model)

    def state_dict(self) -> dict:
        return {
            "netG": self.netG.state_dict(), "netD": self.netD.state_dict(),
            "optG": self.optG.state_dict(), "optD": self.optD.state_dict(),
            "sampler": self.sampler.state_dict(), "noise": self.noise.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.netG.load_state_dict(state["netG"])
        self.netD.load_state_dict(state["netD"])
        self.optG.load_state_dict(state["optG"])
        self.optD.load_state_dict(state["optD"])
        self.sampler.load_state_dict(state["sampler"])
        self.noise.set_state(state["noise"])


@dataclass
class Phase:
    """One GAN training run and what is scored along the way."""

    name: str
    iterations: int
    evaluate: object = None  # (model, iteration) -> dict of figures; None: nothing is scored
    watch: object = None  # (record) -> {name: figure}: early stopping on each figure; the phase stops once all have
    periodic: bool = True  # evaluate on the schedule; else only at the iterations in ``evaluate_at``
    plan: object = None  # () -> iterations to evaluate at, for a phase that an earlier one decides; it ends at the last
    evaluate_at: tuple = ()
    keep_at: object = None  # () -> the iteration whose generator weights the phase keeps in ``kept`` (None: none kept)
    history: list = field(default_factory=list)
    kept: dict | None = None  # {"generator": state_dict, "n_iter": iteration}: checkpointed with the history


def early_stops(history: list[dict], watch, patience: int) -> dict[str, tuple[dict, bool]]:
    """For each figure ``watch`` names: (the evaluation with its best value before early stopping on it would have
    stopped, the first if tied; whether it has stopped), ``patience`` evaluations without progress stopping it.

    Each figure is stopped on as if it were watched alone, so several figures (classifiers) can share one run and
    still each choose what a run of its own would have chosen.
    """
    stops = {}
    for name in (watch(history[0]) if history else {}):
        best, chosen, stale, stopped = -math.inf, None, 0, False
        for record in history:
            value = watch(record)[name]
            if value > best:
                best, chosen = value, record
            stale = 0 if value >= best else stale + 1
            if patience > 0 and stale >= patience:
                stopped = True
                break
        stops[name] = (chosen, stopped)
    return stops


def evaluation_due(config: RunSettings, it: int) -> bool:
    return it >= config.eval_start and it % config.eval_every == 0


def run_phase(phase: Phase, model, out: Path | None = None, writer=None, resume: bool = False,
              stop: StopRequest | None = None, progress=None) -> None:
    """Train ``model`` (a ``gazsl.generator.gan.GAZSL`` set up by ``initialise``) for ``phase.iterations``; a phase that
    an earlier one decides (``plan``, ``keep_at``) is decided here, when the earlier ones have run.

    Checkpoints go to ``out`` (none when it is None); ``resume`` continues from the last one. When ``stop``
    fires, the iteration in progress is finished and checkpointed, then Interrupted is raised.
    ``progress``: (iterations done, iterations in all) -> a ``gazsl.progress.Progress`` that the loop reports to;
    None: silent.
    """
    config = model.config_
    if phase.plan is not None:
        phase.evaluate_at = tuple(phase.plan())
        phase.iterations = max(phase.evaluate_at)
    keep_at = phase.keep_at() if phase.keep_at is not None else None
    checkpoint = out / f"checkpoint_{phase.name}.pt" if out is not None else None
    start, saved = 0, None
    if resume and checkpoint is not None and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        try:
            model.load_state_dict(state["trainer"])
            start, phase.history, phase.kept = state["iteration"], state["history"], state["kept"]
            saved, done = start, state.get("stopped")
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as err:
            raise GazslError(f"{checkpoint}: not a checkpoint of this run ({one_line(err, 160)}); resume with the "
                             "options it was made with, or delete it to start over") from None
        if done:
            return
    bar = progress(start, phase.iterations) if progress is not None else Silent()
    scored = phase.evaluate is not None
    stopped = False
    for it in range(start + 1, phase.iterations + 1):
        # checked before every checkpoint and evaluation, so neither ever sees a diverged model
        evaluate_now = scored and (it in phase.evaluate_at if not phase.periodic
                                   else it == phase.iterations or evaluation_due(config, it))
        log_now = it % config.log_every == 0 or it % config.checkpoint_every == 0 or it == phase.iterations or evaluate_now
        logs = model.step(log=log_now)
        if log_now:
            values = {k: float(v) for k, v in logs.items()}  # the only host sync of a step, at log time
            if not all(math.isfinite(v) for v in values.values()):
                bad = ", ".join(k for k, v in values.items() if not math.isfinite(v))
                kept = "" if checkpoint is None else "; last good checkpoint kept: " + (
                    f"{checkpoint} (iteration {saved})" if saved is not None else "none yet")
                raise GazslError(f"training diverged at iteration {it} of phase '{phase.name}' ({bad} not finite){kept}")
            bar.set_postfix(W=f"{values['wasserstein']:.3f}", pivot=f"{values['pivot']:.3f}")
            if writer is not None:
                for key, value in values.items():
                    writer.add_scalar(f"{phase.name}/{key}", value, it)
        if evaluate_now:
            record = phase.evaluate(model, it)
            phase.history.append(record)
            if writer is not None:
                for key, value in record.items():
                    if isinstance(value, float):
                        writer.add_scalar(f"{phase.name}/eval_{key}", value, it)
            if phase.watch is not None:
                stopped = config.patience > 0 and all(
                    done for _, done in early_stops(phase.history, phase.watch, config.patience).values())
        if it == keep_at:  # training may go on past it, for other figures
            phase.kept = {"generator": {k: v.detach().clone() for k, v in model.generator_.state_dict().items()},
                          "n_iter": it}
        interrupted = stop is not None and stop.signum is not None
        if checkpoint is not None and (it % config.checkpoint_every == 0 or it == phase.iterations or stopped
                                       or interrupted):
            save_checkpoint(checkpoint, {"trainer": model.state_dict(), "iteration": it, "history": phase.history,
                                         "kept": phase.kept, "stopped": stopped or it == phase.iterations})
            saved = it
        bar.update()
        if stopped:
            break
        if interrupted:
            bar.close()
            raise Interrupted(stop.signum, phase.name, it)
    bar.close()
