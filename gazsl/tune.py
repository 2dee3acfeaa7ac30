"""Tune a method's settings on validation classes, with Optuna: ``python -m gazsl.tune``.

    python -m gazsl.tune --split aviary_hard --trials 30                  # GAZSL; SQLite in runs/tune/aviary_hard/
    python -m gazsl.tune --split cub100_hard --method prototype --trials 20
    python -m gazsl.tune --split cub100_hard --trials 200 --storage postgresql://host/db   # on each machine
    python -m gazsl.tune --split aviary_hard --trials 30 --best-config tuned/aviary_hard.json
    python -m gazsl.reproduce --splits aviary_hard --configs tuned        # test figures of the tuned config

Honest by construction
    A trial is the honest protocol's selection run (gazsl.train): a model trained on the seen classes minus the
    validation classes and scored on the validation classes; its figure is validation top-1 per class, the best of
    its periodic evaluations (the one the protocol selects). The trial is handed a store view (``seen_view``) that
    holds only those images: unseen classes (images, names, text vectors) and held-out images of the training
    classes are not in it. Baselines are fitted and scored on the same view.

One study, many workers
    ``--trials N`` is the size of the study: the command runs trials until the study holds N (complete, pruned, or
    failed for a reason of their own), counting those of every worker on the same storage. Workers started with one
    command on many machines (``--storage`` a database, or a journal file on a shared filesystem) finish N trials
    together; a rerun after an interruption, or with a larger N, adds the missing ones. A trial whose worker died
    (its process is gone, or no heartbeat for a while) is marked failed without a reason and not counted, so its
    slot is run again.

Writes experiments/results/tuning/<split>.md with an optimisation history and parameter importances per study
(PNG), and with ``--best-config`` an experiment config that gazsl.train --config, gazsl.reproduce and
gazsl.leaderboard read.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import random
import re
import shlex
import socket
import sys
import tempfile
import threading
import time
import typing
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gazsl import baselines
from gazsl import config as config_module
from gazsl import evaluate as ev
from gazsl.config import Config
from gazsl.io import GazslError, atomic_path, data_error, one_line, read_utf8, sha256_file, write_json_atomic, write_text_atomic
from gazsl.reproduce import CONFIG_DIR, load_cell, read_cell
from gazsl.store import FeatureStore, Split, TextVectors
from gazsl.datasets import open_store
from gazsl.gan import GAZSL
from gazsl.protocol import honest_sets, images_of, local_labels, zsl_figures
from gazsl.trainer import Phase, run_phase

METHODS = ("gazsl", *baselines.BASELINES)
SPACES_DIR = Path(__file__).parent / "tune_spaces"  # the default search space of each method: <method>.json
RESULTS_DIR = Path("experiments/results/tuning")
RUNS_DIR = Path("runs/tune")
SELECT_KEY = "val_top1_per_class"  # the honest protocol's selection figure (gazsl.train.build_phases)
VIEW_SPLIT = "validation"  # the one split of a seen_view: seen minus validation -> validation classes
NOT_TUNABLE = {"seed": "the study's seed (--seed)", "device": "the machine's, not a setting"}
HEARTBEAT_SECONDS = 30.0
# A running trial is abandoned after this many missed heartbeats plus a slack for clocks and slow storages.
GRACE_BEATS, GRACE_SLACK_SECONDS = 3, 30.0
HOST = socket.gethostname()


def require_optuna():
    try:
        import optuna
    except ImportError:
        raise GazslError("gazsl.tune needs Optuna: pip install 'gazsl[tune]' (or: pip install optuna)") from None
    return optuna


# ------------------------------------------------------------------ what a trial may see
def seen_view(store: FeatureStore, split_name: str) -> FeatureStore:
    """A new in-memory store with the honest selection run's data and nothing else.

    Classes: the split's seen classes, renumbered in order. Images: those of the seen classes minus the validation
    classes that training may use (held-out images excluded), and every image of the validation classes (the honest
    protocol's validation set), in the store's order. Its one split, ``VIEW_SPLIT``, has the training classes as
    "seen" and the validation classes as "unseen". Unseen classes and held-out images of training classes are absent.
    """
    split = store.split(split_name)
    sets = honest_sets(store, split)
    classes = np.sort(np.asarray(split.seen))
    images = np.union1d(sets.fit_images, sets.val_images)  # sorted: trainers see images in the store's order
    renumber = np.full(store.n_classes, -1, dtype=np.int64)
    renumber[classes] = np.arange(len(classes))
    supers = np.unique(store.super_ids[classes])
    renumber_super = np.full(len(store.super_names), -1, dtype=np.int64)
    renumber_super[supers] = np.arange(len(supers))
    view = FeatureStore(
        dataset=f"{store.dataset}, seen classes of {split_name}",
        features=store.features[images],
        labels=renumber[store.labels[images]],
        class_ids=store.class_ids[classes],
        class_names=[store.class_names[c] for c in classes],
        super_ids=renumber_super[store.super_ids[classes]],
        super_names=[store.super_names[s] for s in supers],
        texts={name: TextVectors(t.vectors[classes], t.settings, t.vocabulary) for name, t in store.texts.items()},
        info={"view_of": str(store.path), "split": split_name},
    )
    view.splits[VIEW_SPLIT] = Split(VIEW_SPLIT, seen=renumber[sets.fit_classes], unseen=renumber[np.asarray(split.val)],
                                    val=np.zeros(0, np.int64), heldout_images=np.zeros(0, np.int64))
    view.validate()
    return view


# ------------------------------------------------------------------ search spaces
@dataclass
class Param:
    """One dimension of a search space: a range ``low``..``high`` (``log`` or ``step`` optional) or ``choices``."""

    name: str
    kind: type  # the setting's type: int and float take ranges, anything takes choices
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list | None = None

    def suggest(self, trial):
        if self.choices is not None:
            return trial.suggest_categorical(self.name, self.choices)
        if self.kind is int:
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1, log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)

    def values_to_check(self) -> list:
        return list(self.choices) if self.choices is not None else [self.low, self.high]


def tunable(method: str) -> dict[str, type]:
    """The settings a search space may name for ``method``, with their types."""
    if method == "gazsl":
        hints = typing.get_type_hints(Config)
        return {f.name: hints[f.name] for f in dataclasses.fields(Config) if f.name not in NOT_TUNABLE}
    parameters = inspect.signature(baselines.BASELINES[method]).parameters
    return {name: type(p.default) for name, p in parameters.items() if name != "random_state"}  # the seed's


def load_space(method: str, path=None) -> tuple[dict[str, Param], dict]:
    """The search space of ``method`` (default: the one shipped with gazsl) and its JSON, checked value by value."""
    path = Path(path) if path else SPACES_DIR / f"{method}.json"
    form = '{"method": M, "params": {NAME: {"low": L, "high": H[, "log": true][, "step": S]} or {"choices": [..]}}}'
    try:
        raw = json.loads(read_utf8(path, "search space"))
    except json.JSONDecodeError as err:
        raise data_error(path, f"invalid JSON ({err.msg})", f"line {err.lineno}") from None
    if not isinstance(raw, dict) or set(raw) - {"method", "params", "note"} or not isinstance(raw.get("params"), dict):
        raise data_error(path, f"a search space looks like {form}")
    if raw.get("method", method) != method:
        raise data_error(path, f"a search space for method '{raw['method']}'; pass --method {raw['method']}", "method")
    if not raw["params"]:
        raise data_error(path, "no parameter to tune", "params")
    known = tunable(method)
    space = {}
    for name, spec in raw["params"].items():
        key = f"params/{name}"
        if name in NOT_TUNABLE and method == "gazsl":
            raise data_error(path, f"'{name}' is not tuned: it is {NOT_TUNABLE[name]}", key)
        if name not in known:
            raise data_error(path, f"unknown parameter '{name}' for method {method} (known: {', '.join(known)})", key)
        space[name] = parse_param(name, spec, known[name], path, key, form)
        for value in space[name].values_to_check():
            check_value(method, name, value, f"{path} [{key}]")
    return space, raw


def parse_param(name: str, spec, kind: type, path: Path, key: str, form: str) -> Param:
    if not isinstance(spec, dict):
        raise data_error(path, f"expected an object, as in {form}", key)
    if "choices" in spec:
        if set(spec) != {"choices"}:
            raise data_error(path, f"choices take no other key (got {sorted(set(spec) - {'choices'})})", key)
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise data_error(path, "empty or malformed list of choices", key)
        if not all(c is None or isinstance(c, (bool, int, float, str)) for c in choices):
            raise data_error(path, "choices must be numbers, strings, booleans or null", key)
        return Param(name, kind, choices=choices)
    unknown = set(spec) - {"low", "high", "log", "step"}
    if unknown or not {"low", "high"} <= set(spec):
        raise data_error(path, f"a range has low, high and optionally log or step (got {sorted(spec)})", key)
    if kind not in (int, float):
        raise data_error(path, f"'{name}' takes {kind.__name__} values: give its choices instead of a range", key)
    number = int if kind is int else (int, float)
    low, high, log, step = spec["low"], spec["high"], spec.get("log", False), spec.get("step")
    for bound in (low, high) + ((step,) if step is not None else ()):
        if isinstance(bound, bool) or not isinstance(bound, number) or not np.isfinite(bound):
            raise data_error(path, f"'{name}' takes {kind.__name__} values, got {bound!r}", key)
    if low > high:
        raise data_error(path, f"empty range: low {low} > high {high}", key)
    if not isinstance(log, bool):
        raise data_error(path, f"log must be true or false, got {log!r}", key)
    if log and step is not None:
        raise data_error(path, "a range is on a log scale or has a step, not both", key)
    if log and low <= 0:
        raise data_error(path, f"a log-scale range needs low > 0, got {low}", key)
    if step is not None and step <= 0:
        raise data_error(path, f"step must be positive, got {step}", key)
    return Param(name, kind, low=low, high=high, log=log, step=step)


def check_value(method: str, name: str, value, where: str) -> None:
    """Refuse, before any trial runs, a value the method itself would refuse."""
    if method == "gazsl":
        config_module.from_mapping(Config(), {name: value}, where)
        return
    try:  # a tiny fit: the baselines check their settings when fitted
        baselines.BASELINES[method](**{name: value}).fit(np.eye(2), np.eye(2), np.arange(2))
    except (GazslError, TypeError) as err:
        raise GazslError(f"{where}: {err}") from None


# ------------------------------------------------------------------ trials
def gazsl_trial(trial, view: FeatureStore, base: Config, space: dict[str, Param]) -> float:
    """The honest protocol's selection run (gazsl.train.build_phases) on ``view``; evaluations go to the pruner."""
    import optuna

    config = config_module.from_mapping(base, {name: p.suggest(trial) for name, p in space.items()},
                                        f"trial {trial.number}")
    split = view.split(VIEW_SPLIT)
    text = view.text(config.text).vectors
    fit_images, val_images = images_of(view, split.seen), images_of(view, split.unseen)

    def evaluate(model, it):
        figures = zsl_figures(model, text, view, split.unseen, val_images)
        record = {"iteration": it, "val_top1": figures["zsl_top1"], SELECT_KEY: figures["zsl_top1_per_class"]}
        trial.report(record[SELECT_KEY], it)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at iteration {it}")
        return record

    phase = Phase("select", config.iterations, evaluate, split.seen, fit_images, select_key=SELECT_KEY)
    random.seed(config.seed)  # as gazsl.train.train, so that a run with the best trial's config repeats it
    np.random.seed(config.seed)
    model = GAZSL(config).initialise(text[split.seen], view.features[fit_images],
                                     local_labels(view.labels[fit_images], split.seen))
    with tempfile.TemporaryDirectory(prefix="gazsl-tune-") as scratch:  # run_phase checkpoints; a trial never resumes
        run_phase(phase, model, Path(scratch), resume=False)
    if not phase.history:
        raise GazslError(f"no evaluation ran: iterations {config.iterations} is below eval_start {config.eval_start}")
    best = max(phase.history, key=lambda h: h[SELECT_KEY])
    trial.set_user_attr("iteration", best["iteration"])
    trial.set_user_attr("val_top1", best["val_top1"])
    return best[SELECT_KEY]


def baseline_trial(trial, view: FeatureStore, method: str, text_name: str, seed: int, space: dict[str, Param]) -> float:
    """A baseline fitted on the training classes of ``view``, scored on its validation classes (gazsl.leaderboard)."""
    params = {name: p.suggest(trial) for name, p in space.items()}
    split = view.split(VIEW_SPLIT)
    text = view.text(text_name).vectors
    fit_images, val_images = images_of(view, split.seen), images_of(view, split.unseen)
    estimator = baselines.BASELINES[method]
    extra = {"random_state": seed} if "random_state" in inspect.signature(estimator).parameters else {}
    model = estimator(**params, **extra).fit(text[split.seen], view.features[fit_images],
                                             local_labels(view.labels[fit_images], split.seen))
    predicted = model.predict(text[split.unseen], view.features[val_images])
    return ev.top1(predicted, local_labels(view.labels[val_images], split.unseen))[1]


# ------------------------------------------------------------------ workers sharing one study
def counted(trial) -> bool:
    """Whether a trial holds one of the study's N slots: running, or ended as a result of its own settings.

    A WAITING trial (enqueued through Optuna's API) takes its slot when a worker asks for it."""
    from optuna.trial import TrialState

    if trial.state == TrialState.FAIL:
        return "fail_reason" in trial.user_attrs  # else abandoned by a dead worker, or surplus: the slot is free
    return trial.state != TrialState.WAITING


def process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate it; the heartbeat decides there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited; only its parent has not reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def abandonment(trial, now: float) -> str | None:
    """Why a RUNNING trial's worker is dead (None: it may be alive): its process is gone, or its heartbeat stopped."""
    worker = trial.user_attrs.get("worker")
    if worker:
        host, _, pid = worker.rpartition(":")
        if host == HOST and pid.isdigit() and not process_alive(int(pid)):
            return f"its worker {worker} is gone"
    beat = trial.user_attrs.get("heartbeat", trial.datetime_start.timestamp())
    every = trial.user_attrs.get("heartbeat_every", HEARTBEAT_SECONDS)
    if now - beat > GRACE_BEATS * every + GRACE_SLACK_SECONDS:
        return f"no heartbeat from {worker or 'its worker'} for {now - beat:.0f} s"
    return None


def release_abandoned(study) -> None:
    """Mark the RUNNING trials of dead workers failed, without a reason: they stop holding a slot."""
    from optuna.trial import TrialState

    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = abandonment(trial, now)
        if reason is None:
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError):  # it ended, or another worker released it, meanwhile
            continue
        print(f"trial {trial.number} abandoned ({reason}); its slot is run again", file=sys.stderr)


class Heartbeat:
    """Marks a trial as alive while it runs: its worker (host:pid) and a time renewed every ``every`` seconds."""

    def __init__(self, trial, every: float):
        self.trial, self.every = trial, every
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self):
        self.trial.set_user_attr("heartbeat_every", self.every)
        self.thread.start()
        return self

    def _beat(self):
        while True:
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except Exception:  # a storage hiccup must not kill the trial; a missed beat only risks it being released
                pass
            if self.stop.wait(self.every):
                return

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


# Failures that a trial's settings cause (divergence, a setting that cannot run, memory): results of their own.
TRIAL_FAILURES = (GazslError, MemoryError, torch.cuda.OutOfMemoryError)


def run_trial(study, trial, objective, heartbeat: float) -> str:
    """Run ``objective`` on ``trial`` and record its outcome in the study; returns a one-line account."""
    import optuna
    from optuna.trial import TrialState

    value, reason, interrupted = None, None, None
    with Heartbeat(trial, heartbeat):
        try:
            value = objective(trial)
            state = TrialState.COMPLETE
        except optuna.TrialPruned as err:
            state, reason = TrialState.PRUNED, str(err)
        except TRIAL_FAILURES as err:
            state, reason = TrialState.FAIL, " ".join(str(err).split())
        except BaseException as err:  # interrupted, or a bug: not a result of the settings
            state, interrupted = TrialState.FAIL, err
    if interrupted is not None:
        study.tell(trial, state=TrialState.FAIL)  # without a reason: its slot stays free for a rerun
        raise interrupted
    try:
        if state == TrialState.FAIL:
            trial.set_user_attr("fail_reason", reason)
        study.tell(trial, value, state=state)
    except (ValueError, RuntimeError):  # another worker declared it abandoned (a false alarm) and reran its slot
        return f"trial {trial.number}: ended, but another worker had released it meanwhile; result dropped"
    params = ", ".join(f"{k}={_short_value(v)}" for k, v in trial.params.items())
    if state == TrialState.COMPLETE:
        return f"trial {trial.number}: {SELECT_KEY} {value:.2f}  ({params})"
    return f"trial {trial.number}: {state.name.lower()}, {reason}  ({params})"


def _short_value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run_trials(study, objective, n_trials: int, seed: int, timeout: float | None = None,
               heartbeat: float = HEARTBEAT_SECONDS) -> int:
    """Run trials until the study holds ``n_trials`` counted ones (or ``timeout`` s pass); returns how many ran here."""
    from optuna.trial import TrialState

    started, ran = time.monotonic(), 0
    while timeout is None or time.monotonic() - started < timeout:
        release_abandoned(study)
        if sum(map(counted, study.get_trials(deepcopy=False))) >= n_trials:
            break
        trial = study.ask()
        trial.set_user_attr("worker", f"{HOST}:{os.getpid()}")
        trial.set_user_attr("heartbeat", time.time())
        # numbers are handed out by the storage one by one: the first N counted trials run, whoever asked
        earlier = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number and counted(t)]
        if len(earlier) >= n_trials:  # another worker took the last slot between our count and our ask
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            break
        trial.set_user_attr("seed", seed)
        print(run_trial(study, trial, objective, heartbeat), flush=True)
        ran += 1
    return ran


# ------------------------------------------------------------------ storage and study
def default_storage(split: str) -> str:
    return f"sqlite:///{RUNS_DIR / split / 'optuna.db'}"


def open_storage(url: str):
    """An Optuna storage: a journal file for a path ending in .log or .journal, else a database URL."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    try:
        if "://" not in url and url.endswith((".log", ".journal")):
            Path(url).parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(url))
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url)
    except Exception as err:  # drivers, sockets and SQLAlchemy raise many kinds: all mean the same to the user
        raise GazslError(f"--storage {safe_url(url)}: cannot open it ({one_line(err, 160)}); give a database URL "
                         "(sqlite:///FILE.db, postgresql://..., mysql://...) or a journal file FILE.log") from None


def safe_url(url: str) -> str:
    """The URL without its password, fit for a table or a config file."""
    if "://" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: show the scheme only
        return url.split("://", 1)[0] + "://..."


def open_study(storage, name: str, settings: dict, eval_start: int, eval_every: int):
    """Create or load the study; refuse to add trials made under other settings to it."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # constant_liar
        # constant_liar: a worker's sampler treats the others' running trials as poor ones, so they spread out
        sampler = optuna.samplers.TPESampler(constant_liar=True)
    # pruning from the third evaluation on: the first ones of a GAN are noise
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=eval_start + eval_every)
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True,
                                    sampler=sampler, pruner=pruner)
    except ValueError as err:  # e.g. an existing study with other directions
        raise GazslError(f"study '{name}': {err}") from None
    recorded = study.user_attrs.get("settings")
    if recorded is None:
        study.set_user_attr("settings", settings)
    elif recorded != settings:
        key = next(k for k in sorted(recorded.keys() | settings.keys()) if recorded.get(k) != settings.get(k))
        old, new = recorded.get(key), settings.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            sub = next(k for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k))
            key, old, new = f"{key}.{sub}", old.get(sub), new.get(sub)
        raise GazslError(f"study '{name}' was made with other settings ({key}: {old!r}, now {new!r}); "
                         "use the same options, or another --study")
    return study


# ------------------------------------------------------------------ one tuning job
@dataclass
class Tuning:
    """What every worker of one command shares: the split's view, the method, its space and fixed settings."""

    split: str
    method: str
    space: dict[str, Param]
    config: Config  # the split's experiment config with --iters and --seed (GAZSL's fixed settings)
    preset: str
    view: FeatureStore
    settings: dict  # recorded in the study; a rerun must match them
    storage_url: str
    study_name: str

    def objective(self, trial) -> float:
        if self.method == "gazsl":
            return gazsl_trial(trial, self.view, self.config, self.space)
        return baseline_trial(trial, self.view, self.method, self.config.text, self.config.seed, self.space)

    def study(self):
        storage = open_storage(self.storage_url)
        return open_study(storage, self.study_name, self.settings, self.config.eval_start, self.config.eval_every)


def prepare(args) -> Tuning:
    """Check every input and build the view; nothing of the store but the view is kept."""
    preset, config, store_path = load_cell(args.split, args.configs)
    overrides = {"iterations": args.iters, "seed": args.seed}
    config = config_module.from_mapping(config, {k: v for k, v in overrides.items() if v is not None}, "command line")
    if args.method == "gazsl" and config.iterations < config.eval_start:
        raise GazslError(f"--iters {config.iterations} is below eval_start {config.eval_start}: "
                         "no evaluation would run")
    space, raw_space = load_space(args.method, args.space)
    store = open_store(args.split, store_path)
    view = seen_view(store, args.split)
    view.text(config.text)  # a missing text encoder fails here, not in every trial
    fixed = ({k: v for k, v in config.to_dict().items() if k != "device"} if args.method == "gazsl"
             else {"text": config.text, "seed": config.seed})
    settings = {"split": args.split, "method": args.method, "space": raw_space["params"], "fixed": fixed,
                "store_sha256": sha256_file(store.path)}
    return Tuning(args.split, args.method, space, config, preset, view, json.loads(json.dumps(settings)),
                  args.storage or default_storage(args.split), args.study or f"{args.split}-{args.method}")


def work(args, threads: int) -> int:
    """A worker process of --jobs: trials until the study is full (module-level, so that it can be spawned)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours
    torch.set_num_threads(threads)
    tuning = prepare(args)
    return run_trials(tuning.study(), tuning.objective, args.trials, tuning.config.seed, args.timeout, args.heartbeat)


# ------------------------------------------------------------------ results
def trial_counts(study) -> dict[str, int]:
    from optuna.trial import TrialState

    counts = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "abandoned": 0}
    for t in study.get_trials(deepcopy=False):
        if t.state == TrialState.FAIL:
            counts["failed" if counted(t) else "abandoned"] += 1
        elif t.state.name.lower() in counts:
            counts[t.state.name.lower()] += 1
    return counts


def best_config(path: Path, study, tuning: Tuning, configs_dir: Path) -> dict:
    """Write (or update) an experiment config with the best trial's settings and where they come from."""
    try:
        best = study.best_trial
    except ValueError:
        raise GazslError(f"--best-config: study '{study.study_name}' has no complete trial yet") from None
    if path.exists():
        try:
            cell = json.loads(read_utf8(path, "experiment config"))
        except json.JSONDecodeError as err:
            raise data_error(path, f"invalid JSON ({err.msg}); not overwritten", f"line {err.lineno}") from None
        if not isinstance(cell, dict) or cell.get("split") != tuning.split:
            raise data_error(path, f"exists and is not an experiment config of split '{tuning.split}'; not overwritten")
    else:
        base = read_cell(tuning.split, configs_dir)
        cell = {k: v for k, v in base.items() if k in ("split", "preset", "store", "overrides")}
        cell.setdefault("split", tuning.split)
        cell.setdefault("preset", tuning.preset)
    counts = trial_counts(study)
    entry = {"study": study.study_name, "storage": safe_url(tuning.storage_url),
             "trials": counts["complete"] + counts["pruned"] + counts["failed"], "best_trial": best.number,
             SELECT_KEY: best.value, "seed": tuning.config.seed, "params": best.params}
    cell["tuned"] = {**cell.get("tuned", {}), tuning.method: entry}
    if tuning.method == "gazsl":  # every field, so that the file means the same under any preset
        config = config_module.from_mapping(tuning.config, best.params, f"trial {best.number}")
        cell["overrides"] = {k: v for k, v in config.to_dict().items() if k != "device"}
    cell["note"] = "; ".join(f"{method}: tuned on validation classes by gazsl.tune, {e['trials']} trials, "
                             f"study {e['study']}" for method, e in cell["tuned"].items())
    write_json_atomic(path, cell)
    return cell


def plot_history(study, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from optuna.trial import TrialState

    fig, ax = plt.subplots(figsize=(6, 3.8))
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED and t.value is not None]
    if complete:
        ax.scatter([t.number for t in complete], [t.value for t in complete], s=18, color="tab:blue", label="complete")
        best = np.maximum.accumulate([t.value for t in complete])
        ax.step([t.number for t in complete], best, where="post", color="tab:red", label="best so far")
    if pruned:
        ax.scatter([t.number for t in pruned], [t.value for t in pruned], s=18, marker="x", color="tab:gray",
                   label="pruned (at its last evaluation)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="trial", ylabel="validation top-1 per class %", title=f"{study.study_name}: optimisation history")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_importances(importances: dict[str, float], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(importances)[::-1]  # largest on top
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.3 * len(names)))
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set(xlabel="importance (fANOVA, share of the variance)", title=title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def importances_of(study) -> dict[str, float] | None:
    import optuna

    try:
        return optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError):  # fewer than two complete trials, or no setting that varied
        return None


def study_section(study, split: str, results_dir: Path) -> str:
    settings = study.user_attrs["settings"]
    counts = trial_counts(study)
    stem = f"{split}_" + re.sub(r"[^A-Za-z0-9_.-]", "_", study.study_name)
    lines = [f"## Study `{study.study_name}`: {settings['method']}", ""]
    if "command" in study.user_attrs:
        lines += [f"Trials last added by `{study.user_attrs['command']}`.", ""]
    ran = counts["complete"] + counts["pruned"] + counts["failed"]
    lines.append(f"{ran} trials: {counts['complete']} complete, {counts['pruned']} pruned, {counts['failed']} failed"
                 + (f", {counts['running']} running" if counts["running"] else "")
                 + (f" (and {counts['abandoned']} abandoned by a dead worker or surplus, not counted)"
                    if counts["abandoned"] else "") + f"; seed {settings['fixed']['seed']}"
                 + (f", at most {settings['fixed']['iterations']} iterations" if settings["method"] == "gazsl" else "")
                 + ".")
    if not counts["complete"]:
        return "\n".join(lines + ["", "No complete trial yet."])
    best = study.best_trial
    at = f" at iteration {best.user_attrs['iteration']}" if "iteration" in best.user_attrs else ""
    lines += ["", f"Best: trial {best.number}, validation top-1 per class **{best.value:.2f} %**{at}.", "",
              "| setting | searched | best trial |", "|---|---|---|"]
    space = settings["space"]
    for name, value in best.params.items():
        spec = space.get(name, {})
        searched = ("one of " + ", ".join(map(str, spec["choices"])) if "choices" in spec
                    else f"{spec.get('low')} .. {spec.get('high')}" + (", log" if spec.get("log") else ""))
        lines.append(f"| `{name}` | {searched} | {_short_value(value)} |")
    plot_history(study, results_dir / f"{stem}_history.png")
    lines += ["", f"![optimisation history]({stem}_history.png)"]
    importances = importances_of(study)
    if importances:
        plot_importances(importances, f"{study.study_name}: parameter importances",
                         results_dir / f"{stem}_importance.png")
        lines.append(f"![parameter importances]({stem}_importance.png)")
        few = counts["complete"] < 2 * len(importances)  # a forest over fewer trials than that fits noise
        lines += ["", f"Importances (fANOVA over the {counts['complete']} complete trials"
                  + (f", too few for {len(importances)} settings: read them as noise" if few else "") + "): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in importances.items()) + "."]
    else:
        lines += ["", "Importances: none to compute (fewer than two complete trials, or all alike)."]
    return "\n".join(lines)


def write_summary(storage_url: str, split: str, results_dir: Path, command: str) -> Path:
    """experiments/results/tuning/<split>.md from every study of ``split`` on the storage (regenerated each time)."""
    import optuna

    storage = open_storage(storage_url)
    studies = [optuna.load_study(study_name=name, storage=storage) for name in optuna.get_all_study_names(storage)]
    studies = [s for s in studies if s.user_attrs.get("settings", {}).get("split") == split]
    path = results_dir / f"{split}.md"
    sections = [study_section(s, split, results_dir) for s in studies]
    write_text_atomic(path, (
        f"# Tuning on {split}\n\nRegenerated by:\n\n```bash\n{command}\n```\n\n"
        f"from the studies on `{safe_url(storage_url)}`. Each trial is the honest protocol's selection run "
        "(GAZSL) or fit (baselines): trained on the seen classes minus the validation classes and scored on the "
        "validation classes; its figure is validation top-1 per class (%), the one the honest protocol selects by. "
        "Trials never load unseen classes nor held-out images of the training classes, so these figures say nothing "
        "about the test: for test figures write the best trial as a config (`--best-config DIR/"
        f"{split}.json`) and run `python -m gazsl.reproduce --splits {split} --configs DIR`.\n\n"
        + "\n\n".join(sections) + "\n"))
    return path


# ------------------------------------------------------------------ command line
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gazsl.tune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", required=True, help="e.g. aviary_hard, cub100_hard")
    parser.add_argument("--trials", type=int, required=True, help="the study's size: trials of every worker together")
    parser.add_argument("--method", choices=METHODS, default="gazsl")
    parser.add_argument("--space", type=Path, help="search space JSON (default: gazsl/tune_spaces/<method>.json)")
    parser.add_argument("--storage", help="Optuna storage: a database URL or a journal file (*.log, *.journal) "
                                          "(default: sqlite:///runs/tune/<split>/optuna.db)")
    parser.add_argument("--study", help="study name (default: <split>-<method>)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes on this machine")
    parser.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    parser.add_argument("--best-config", type=Path, help="write the best trial as an experiment config here")
    parser.add_argument("--seed", type=int, help="every trial's seed (default: the config's)")
    parser.add_argument("--iters", type=int, help="iterations of a GAZSL trial at most (default: the config's)")
    parser.add_argument("--configs", type=Path, default=CONFIG_DIR, help="experiment configs (<split>.json)")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--heartbeat", type=float, default=HEARTBEAT_SECONDS,
                        help="seconds between a running trial's signs of life")
    args = parser.parse_args(argv)
    for name in ("trials", "jobs"):
        if getattr(args, name) < 1:
            raise GazslError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name in ("timeout", "heartbeat"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            raise GazslError(f"--{name} must be positive, got {getattr(args, name)}")
    return args


def main(argv=None) -> int:
    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours
    args = parse_args(argv)
    command = "python -m gazsl.tune " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    tuning = prepare(args)
    study = tuning.study()  # made (or checked) here, before any worker starts
    if args.jobs == 1:
        ran = run_trials(study, tuning.objective, args.trials, tuning.config.seed, args.timeout, args.heartbeat)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        threads = max(1, (os.cpu_count() or 1) // args.jobs)
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            ran = sum(f.result() for f in [pool.submit(work, args, threads) for _ in range(args.jobs)])
    if ran:
        study.set_user_attr("command", command)
    counts = trial_counts(study)
    summary = write_summary(tuning.storage_url, args.split, args.results, command)
    if args.best_config:
        best_config(args.best_config, study, tuning, args.configs)
    done = counts["complete"] + counts["pruned"] + counts["failed"]
    best = f"; best trial {study.best_trial.number}: {SELECT_KEY} {study.best_value:.2f}%" if counts["complete"] else ""
    print(f"study {tuning.study_name}: {done} of {args.trials} trials ({ran} run here; {counts['complete']} complete, "
          f"{counts['pruned']} pruned, {counts['failed']} failed"
          + (f", {counts['running']} running elsewhere" if counts["running"] else "") + f"){best} -> {summary}"
          + (f", {args.best_config}" if args.best_config else ""))
    return 0


if __name__ == "__main__":
    from gazsl.io import run_cli

    run_cli(main)
