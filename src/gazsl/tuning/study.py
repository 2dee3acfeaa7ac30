"""Studies of gazsl.tune: storages, workers sharing one study (heartbeats, abandoned trials), one tuning job."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from gazsl.generator import config as config_module
from gazsl.generator.config import Config
from gazsl.datasets.stores import open_store
from gazsl.store.feature_store import FeatureStore
from gazsl.interrupt import Interrupted, StopRequest, stop_on_signals
from gazsl.io import GazslError, one_line, sha256_file
from gazsl.protocols.cells import CONFIG_DIR, load_cell
from gazsl.tuning.space import Param, load_space
from gazsl.tuning.trials import SELECT_KEY, baseline_trial, gazsl_trial, seen_view

RUNS_DIR = Path("runs/tune")
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


def run_trial(study, trial, objective, heartbeat: float, stop: StopRequest | None = None) -> str:
    """Run ``objective(trial, stop)`` and record its outcome in the study; returns a one-line account. A trial that
    ``stop`` interrupts is recorded as failed without a reason, which leaves its slot to a rerun."""
    import optuna
    from optuna.trial import TrialState

    value, reason, interrupted = None, None, None
    with Heartbeat(trial, heartbeat):
        try:
            value = objective(trial, stop)
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
    params = ", ".join(f"{k}={short_value(v)}" for k, v in trial.params.items())
    if state == TrialState.COMPLETE:
        return f"trial {trial.number}: {SELECT_KEY} {value:.2f}  ({params})"
    return f"trial {trial.number}: {state.name.lower()}, {reason}  ({params})"


def short_value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run_trials(study, objective, n_trials: int, seed: int, timeout: float | None = None,
               heartbeat: float = HEARTBEAT_SECONDS) -> int:
    """Run trials until the study holds ``n_trials`` counted ones (or ``timeout`` s pass); returns how many ran here.

    SIGTERM or SIGINT stops the trial in progress at its next iteration and raises ``Interrupted``; running the
    command again fills the study up from where it stopped."""
    from optuna.trial import TrialState

    started, ran = time.monotonic(), 0
    with stop_on_signals() as stop:
        while timeout is None or time.monotonic() - started < timeout:
            if stop.signum is not None:
                raise Interrupted(stop.signum)
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
            print(run_trial(study, trial, objective, heartbeat, stop), flush=True)
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
        return _rdb_storage(url)
    except Exception as err:  # drivers, sockets and SQLAlchemy raise many kinds: all mean the same to the user
        raise GazslError(f"--storage {safe_url(url)}: cannot open it ({one_line(err, 160)}); give a database URL "
                         "(sqlite:///FILE.db, postgresql://..., mysql://...) or a journal file FILE.log") from None


def _rdb_storage(url: str, attempts: int = 3):
    """Optuna's RDBStorage; workers started together on a new database race to create its tables (PostgreSQL:
    a duplicate key in pg_type), and the loser finds them made when it tries again."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url)
        except (IntegrityError, ProgrammingError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


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

    def objective(self, trial, stop: StopRequest | None = None) -> float:
        if self.method == "gazsl":
            return gazsl_trial(trial, self.view, self.config, self.space, stop)
        return baseline_trial(trial, self.view, self.method, self.config.text, self.config.seed, self.space)

    def study(self):
        storage = open_storage(self.storage_url)
        return open_study(storage, self.study_name, self.settings, self.config.eval_start, self.config.eval_every)


@dataclass(frozen=True)
class Request:
    """What a study is asked for (``gazsl tune``'s arguments): the split and method, where the configs, space and
    study live, and what overrides the experiment config (None: the config's own)."""

    split: str
    method: str = "gazsl"
    configs: Path = CONFIG_DIR
    space: Path | None = None
    storage: str | None = None
    study: str | None = None
    iters: int | None = None
    seed: int | None = None


def prepare(args: Request) -> Tuning:
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
    if store.text(config.text).described_images is not None:  # its view would score the photographs it described
        raise GazslError(f"text '{config.text}' read the descriptions of some photographs: gazsl tune does not leave "
                         "them out of its evaluations; tune on a text of every photograph's descriptions")
    view.text(config.text)  # a missing text encoder fails here, not in every trial
    fixed = ({k: v for k, v in config.to_dict().items() if k != "device"} if args.method == "gazsl"
             else {"text": config.text, "seed": config.seed})
    settings = {"split": args.split, "method": args.method, "space": raw_space["params"], "fixed": fixed,
                "store_sha256": sha256_file(store.path)}
    return Tuning(args.split, args.method, space, config, preset, view, json.loads(json.dumps(settings)),
                  args.storage or default_storage(args.split), args.study or f"{args.split}-{args.method}")


def work(request: Request, n_trials: int, timeout: float | None, heartbeat: float, threads: int) -> int:
    """A worker process of --jobs: trials until the study is full (module-level, so that it can be spawned)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours
    torch.set_num_threads(threads)
    tuning = prepare(request)
    return run_trials(tuning.study(), tuning.objective, n_trials, tuning.config.seed, timeout, heartbeat)


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
