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
import shlex
import sys
from pathlib import Path

from gazsl.interrupt import run_in_processes, stop_on_signals
from gazsl.io import GazslError
from gazsl.protocols.cells import CONFIG_DIR
from gazsl.tuning.space import METHODS
from gazsl.tuning.study import HEARTBEAT_SECONDS, Request, prepare, require_optuna, run_trials, trial_counts, work
from gazsl.tuning.summary import RESULTS_DIR, best_config, write_summary
from gazsl.tuning.trials import SELECT_KEY


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gazsl.tune", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", required=True, help="e.g. aviary_hard, cub100_hard")
    parser.add_argument("--trials", type=int, required=True, help="the study's size: trials of every worker together")
    parser.add_argument("--method", default="gazsl", help=f"{', '.join(METHODS)}, or a method plugin: "
                        "package.module:Class or an entry point of gazsl.methods (give its --space)")
    parser.add_argument("--space", type=Path, help="search space JSON (default: gazsl/tuning/spaces/<method>.json)")
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
    if args.method not in METHODS:
        from gazsl.scoring.methods import resolve

        resolve(args.method)  # a missing or broken plugin: one line, before anything starts
    for name in ("trials", "jobs"):
        if getattr(args, name) < 1:
            raise GazslError(f"--{name} must be at least 1, got {getattr(args, name)}")
    for name in ("timeout", "heartbeat"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            raise GazslError(f"--{name} must be positive, got {getattr(args, name)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)  # first: --help, and a bad argument, need no Optuna
    optuna = require_optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours
    command = "python -m gazsl.tune " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    request = Request(args.split, args.method, args.configs, args.space, args.storage, args.study, args.iters, args.seed)
    tuning = prepare(request)
    study = tuning.study()  # made (or checked) here, before any worker starts
    if args.jobs == 1:
        ran = run_trials(study, tuning.objective, args.trials, tuning.config.seed, args.timeout, args.heartbeat)
    else:  # each worker fills the study until it is full; a signal is forwarded to them, and each stops its trial
        with stop_on_signals() as stop:
            ran = sum(run_in_processes([(request, args.trials, args.timeout, args.heartbeat)] * args.jobs, args.jobs,
                                       work, stop))
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
