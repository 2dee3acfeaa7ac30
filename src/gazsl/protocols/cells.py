"""Experiment configs, one per table cell (experiments/configs/<split>.json), and the runs that fill the cells.

A cell is a (split, protocol, seed) run of gazsl.train under runs/reproduce/; a finished run is reused and an
interrupted one resumed (gazsl.protocols.runs.finished_run).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gazsl.generator import config as config_module
from gazsl.interrupt import Interrupted, run_in_processes, stop_on_signals
from gazsl.io import data_error, exclusive_lock
from gazsl.protocols.runs import finished_run
from gazsl.protocols.training import train

CONFIG_DIR = Path("experiments/configs")
RESULTS_DIR = Path("experiments/results")
RUNS_DIR = Path("runs/reproduce")

# Zhu et al. 2018, Table 2/3, on the authors' 3584-d part features (top-1 %, AUSUC %).
PAPER_FIGURES = {
    "cub_easy": (43.7, 35.4), "cub_hard": (10.3, 8.7),
    "nab_easy": (35.6, 20.4), "nab_hard": (8.6, 5.8),
}


def read_cell(split: str, config_dir: Path = CONFIG_DIR) -> dict:
    """The experiment config of one split, as written (keys: ``config.EXPERIMENT_KEYS``)."""
    path = config_dir / f"{split}.json"
    if not path.exists():
        known = sorted(p.stem for p in config_dir.glob("*.json"))
        raise data_error(path, f"no experiment config for split '{split}' (available: {', '.join(known)})")
    return config_module.read_experiment(path)


def load_cell(split: str, config_dir: Path = CONFIG_DIR) -> tuple[str, config_module.Config, str | None]:
    """(preset name, config, store path or None) of one table cell."""
    path = config_dir / f"{split}.json"
    cell = read_cell(split, config_dir)
    preset = cell.get("preset", "cpu")
    config = config_module.from_mapping(config_module.preset(preset), cell.get("overrides", {}), str(path))
    return preset, config, cell.get("store")


def run_cell(split: str, protocol: str, seed: int, runs_dir: Path = RUNS_DIR, config_dir: Path = CONFIG_DIR,
             threads: int | None = None, overrides: dict | None = None) -> dict:
    """Train one cell (the split's experiment config, plus ``overrides`` for a method variant), or reuse its run."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    out = runs_dir / split / protocol / f"seed{seed}"
    preset, config, store = load_cell(split, config_dir)
    config = config_module.from_mapping(config, {**(overrides or {}), "seed": seed}, f"settings of {out}")
    metrics = finished_run(out, split, protocol, preset, config, store)
    if metrics is not None:
        return metrics
    resume = any(out.glob("checkpoint_*.pt"))
    return train(split, config, out, protocol, preset, store, resume=resume)


def run_cells(cells: list[tuple], runs_dir: Path, config_dir: Path, jobs: int, run=run_cell, lock: bool = True,
              on_done=None) -> dict[tuple, dict]:
    """Metrics of every cell, ``jobs`` processes at a time: ``run(*cell, runs_dir, config_dir, threads)``.

    The default ``run_cell`` takes (split, protocol, seed) cells; ``run`` must be a module-level function
    (the worker processes import it). ``lock``: hold the runs folder's lock throughout (a table command's runs);
    without it each cell locks its own. ``on_done(cell)`` is told of each finished cell. On SIGTERM or SIGINT the
    cells running checkpoint and stop, the others do not start, and ``Interrupted`` is raised (``gazsl.io.run_cli``
    names the command that resumes).
    """
    held = exclusive_lock(Path(runs_dir) / ".lock", f"runs folder {runs_dir}") if lock else contextlib.nullcontext()
    with held, stop_on_signals() as stop:
        if jobs <= 1:  # a cell's run (gazsl.protocols.training.train) takes the signals over while it trains
            made = {}
            for cell in cells:
                if stop.signum is not None:
                    raise Interrupted(stop.signum)
                made[cell] = run(*cell, runs_dir, config_dir)
                if on_done is not None:
                    on_done(cell)
            return made
        tasks = [(*cell, runs_dir, config_dir) for cell in cells]
        made = run_in_processes(tasks, jobs, run, stop, on_done and (lambda task: on_done(task[:-2])))
        return dict(zip(cells, made))

