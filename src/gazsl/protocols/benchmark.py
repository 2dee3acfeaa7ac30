"""The cross-validated benchmark: cells of (protocol, repeat, fold, method, seed), each one independent command.

Its design is a JSON file (``experiments/benchmark.json``, pre-registered): per protocol the store (a name,
``features/<name>.h5``, or the path of a ``.h5`` store), text, fold rule, folds and repeats; the number of validation
folds; the baselines; optionally other methods (``methods``: row name -> ``package.module:Class`` or an entry point
of ``gazsl.methods``, see ``gazsl.scoring.methods``); the GAZSL trainings (config overrides on the ``cpu`` preset,
possibly none), each scored by every classifier; the one recommended method; and optionally the figures the claim
is decided on (``claim_figures``, of ``zsl_top1``, ``ausuc`` and ``gzsl_h``, the first deciding; default top-1). Every fold is an ordinary split
under the honest protocol (``gazsl.store.splits``), with its settings chosen on the mean over its validation
folds and, beside it, on its first validation fold alone (the single-fold rule, for comparison).

A cell leaves ``<runs>/<protocol>/r<R>f<K>/<method>/seed<S>/cell.json`` (written last and atomically; a GAZSL
training's run folder, with its checkpoints, beside it), holding its split's class ids, its rows' figures and
chosen settings, and where and with what it was made. A finished cell is reused only with the same definition.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from gazsl.generator import config as config_module
from gazsl.io import GazslError, data_error, exclusive_lock, one_line, write_json_atomic
from gazsl.store.splits import FOLD_RULES, cv_split_name, cv_splits
from gazsl.store.feature_store import FeatureStore, default_store_path
from gazsl.scoring import baselines, methods as method_plugins

DESIGN = Path("experiments/benchmark.json")
RUNS = Path("runs/benchmark")
DESIGN_KEYS = ("note", "recommended", "claim", "protocols", "validation_folds", "seeds", "baselines", "trainings",
               "classifiers", "interval")
PROTOCOL_KEYS = ("store", "text", "rule", "folds", "repeats", "seed")
ROW_KEYS = ("zsl_top1", "zsl_top1_per_class", "ausuc", "gzsl_h", "val_top1_per_class")
CLAIM_FIGURES = ("zsl_top1", "ausuc", "gzsl_h")  # what a claim may be decided on: top-1, AUSUC, H


def read_design(path: Path = DESIGN) -> dict:
    """The benchmark's design, checked: a bad file is one line naming it and the problem."""
    path = Path(path)
    try:
        design = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise data_error(path, "benchmark design not found (see experiments/benchmark.json)") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise data_error(path, f"unreadable benchmark design ({one_line(err, 120)})") from None
    if not isinstance(design, dict):
        raise data_error(path, "a benchmark design is one JSON object")
    missing = [k for k in DESIGN_KEYS if k not in design]
    if missing:
        raise data_error(path, f"missing key(s) {missing}")
    for name, spec in design["protocols"].items():
        if not isinstance(spec, dict) or sorted(spec) != sorted(PROTOCOL_KEYS):
            raise data_error(path, f"expected the keys {list(PROTOCOL_KEYS)}", f"protocols/{name}")
        if spec["rule"] not in FOLD_RULES:
            raise data_error(path, f"unknown fold rule {spec['rule']!r} (known: {', '.join(FOLD_RULES)})",
                             f"protocols/{name}/rule")
    if not isinstance(design["validation_folds"], int) or design["validation_folds"] < 2:
        raise data_error(path, "at least 2 validation folds (the single-fold rule is scored beside them)",
                         "validation_folds")
    unknown = [b for b in design["baselines"] if b not in baselines.BASELINES]
    if unknown:
        raise data_error(path, f"unknown baseline(s) {unknown} (known: {', '.join(baselines.BASELINES)})", "baselines")
    plugins = design.setdefault("methods", {})  # resolved by each of their cells: a missing plugin stops its own
    if not isinstance(plugins, dict) or not all(isinstance(v, str) and v for v in plugins.values()):
        raise data_error(path, "expected an object of row name -> 'package.module:Class' or an entry point's name",
                         "methods")
    clashes = set(plugins) & {*design["baselines"], *design["trainings"]}
    if clashes:
        raise data_error(path, f"row name(s) {sorted(clashes)} used twice", "methods")
    figures = design.setdefault("claim_figures", ["zsl_top1"])
    if not isinstance(figures, list) or not figures or any(f not in CLAIM_FIGURES for f in figures):
        raise data_error(path, f"a non-empty list of {', '.join(CLAIM_FIGURES)}, the first deciding the claim",
                         "claim_figures")
    for name, overrides in design["trainings"].items():
        config_module.from_mapping(config_module.preset("cpu"), overrides, f"{path} [trainings/{name}]")
    if design["recommended"].get("method") not in method_rows(design):
        raise data_error(path, f"the recommended method {design['recommended'].get('method')!r} is none of the "
                         f"benchmark's rows ({', '.join(method_rows(design))})", "recommended/method")
    return design


def method_rows(design: dict) -> list[str]:
    """The table's rows: the baselines, the other methods, then each training's classifiers
    (``<training>_<classifier>``)."""
    return [*design["baselines"], *design.get("methods", {}),
            *(f"{t}_{c}" for t in design["trainings"] for c in design["classifiers"])]


def cell_methods(design: dict) -> list[str]:
    """What a cell runs: a GAZSL training (every classifier's row), a baseline or another method."""
    return [*design["trainings"], *design["baselines"], *design.get("methods", {})]


def store_path(store: str) -> Path:
    """A design's store: a path when it names a .h5 file, else the name of one under features/ (GAZSL_FEATURES)."""
    return Path(store) if store.endswith(".h5") else default_store_path(store)


@dataclass(frozen=True, order=True)
class Cell:
    protocol: str
    repeat: int
    fold: int
    method: str  # a baseline, or a GAZSL training (all its classifiers' rows)
    seed: int

    def folder(self, runs: Path) -> Path:
        return Path(runs) / self.protocol / f"r{self.repeat}f{self.fold}" / self.method / f"seed{self.seed}"

    def command(self, design_path: Path = DESIGN, runs: Path = RUNS) -> str:
        options = "".join([f" --design {design_path}" if Path(design_path) != DESIGN else "",
                           f" --runs {runs}" if Path(runs) != RUNS else ""])
        return (f"gazsl benchmark{options} cell --protocol {self.protocol} --repeat {self.repeat} --fold {self.fold} "
                f"--method {self.method} --seed {self.seed}")


def cells(design: dict, protocols: list[str] | None = None) -> list[Cell]:
    """Every cell of a full run: GAZSL trainings first (they take longest), then the baselines."""
    names = protocols or list(design["protocols"])
    unknown = [p for p in names if p not in design["protocols"]]
    if unknown:
        raise GazslError(f"unknown benchmark protocol(s) {unknown} (available: {', '.join(design['protocols'])})")
    return [Cell(p, r, k, m, s) for m in cell_methods(design) for p in names
            for r in range(design["protocols"][p]["repeats"]) for k in range(design["protocols"][p]["folds"])
            for s in range(design["seeds"])]


@lru_cache(maxsize=4)
def _opened(path: str) -> FeatureStore:
    return FeatureStore.open(path)


def protocol_store(design: dict, protocol: str) -> tuple[FeatureStore, dict[str, list[np.ndarray]]]:
    """The protocol's store with every fold's split added (in memory), and each split's validation folds."""
    spec = design["protocols"][protocol]
    path = store_path(spec["store"])
    if spec["store"] == "aviary":
        from gazsl.datasets.aviary_world import ensure_aviary

        ensure_aviary(path)
    if not path.exists():
        raise data_error(path, f"feature store of benchmark protocol '{protocol}' not found; build it first "
                         "(docs/datasets.md)")
    store = _opened(str(path))
    folds = {}
    for split, val_folds in cv_splits(protocol, store.n_classes, store.labels, spec["folds"], spec["repeats"],
                                      spec["rule"], spec["seed"], design["validation_folds"], store.super_ids):
        store.splits[split.name] = split
        folds[split.name] = val_folds
    return store, folds


def definition(design: dict, cell: Cell, store: FeatureStore, split_name: str, val_folds: list[np.ndarray]) -> dict:
    """What decides a cell's figures: its split's classes (the dataset's own ids), validation folds, text, settings."""
    spec = design["protocols"][cell.protocol]
    split = store.split(split_name)
    ids = store.class_ids
    plugin = design.get("methods", {}).get(cell.method)
    return {**({"plugin": method_plugins.resolve(plugin).record()} if plugin else {}), "protocol": cell.protocol, "repeat": cell.repeat, "fold": cell.fold, "method": cell.method,
            "seed": cell.seed, "split": split_name, "store": spec["store"], "text": spec["text"],
            "inputs_sha256": store.inputs_sha256(split_name, spec["text"]),
            "seen_class_ids": ids[split.seen].tolist(), "unseen_class_ids": ids[split.unseen].tolist(),
            "validation_class_ids": [ids[v].tolist() for v in val_folds],
            "settings": design["trainings"].get(cell.method, {})}


def run_cell(cell: Cell, design_path: Path = DESIGN, runs: Path = RUNS, threads: int | None = None) -> dict:
    """One cell, made or reused: its record (also ``cell.json`` in its folder)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    design = read_design(design_path)
    store, folds = protocol_store(design, cell.protocol)
    split_name = cv_split_name(cell.protocol, cell.repeat, cell.fold)
    if split_name not in folds or cell.seed >= design["seeds"] or cell.method not in cell_methods(design):
        raise GazslError(f"{design_path}: no such benchmark cell ({cell.command(design_path, runs)})")
    wanted = definition(design, cell, store, split_name, folds[split_name])
    folder = cell.folder(runs)
    path = folder / "cell.json"
    with exclusive_lock(folder / ".lock", f"benchmark cell {folder}"):
        if path.exists():
            made = read_cell_record(path)
            if made["definition"] != wanted:
                raise GazslError(f"{path}: a finished cell of another definition (design, store or code changed); "
                                 f"delete {folder} to rerun it")
            return made
        started = time.time()
        from gazsl.protocols.protocol import scored_text

        spec = design["protocols"][cell.protocol]
        text = scored_text(store, split_name, spec["text"])
        if cell.method in design["trainings"]:
            rows, extra = gazsl_rows(design, cell, store, split_name, folds[split_name], folder)
        else:
            rows, extra = baseline_rows(cell.method, text, store, split_name, folds[split_name], cell.seed,
                                        design.get("methods", {}).get(cell.method))
        from gazsl.generator.precision import cpu_bf16_instructions, cpu_name
        from gazsl.protocols.runs import provenance

        record = {"definition": wanted, "rows": rows, **extra, "seconds": round(time.time() - started, 1),
                  "threads": torch.get_num_threads(), "cpu": cpu_name(),
                  "cpu_bf16_instructions": cpu_bf16_instructions(), **provenance(store)}
        write_json_atomic(path, record)  # last: a cell is finished when it exists
        return record


def restore_cells(design: dict, results: Path, runs: Path = RUNS) -> tuple[int, int, int]:
    """Write the cells of a results file (``benchmark.json``) back as finished cells: (restored, already there,
    left out as cells this design does not have).

    A cell comes back only where its definition (split classes, validation folds, store and text checksums) is the
    one the design and the store give now, so a table made from restored cells is the table those cells made. Cells
    of protocols or methods the design does not have are left out: a design that adds a method to an earlier
    benchmark's folds reuses that benchmark's cells.
    """
    results = Path(results)
    try:
        records = json.loads(results.read_text(encoding="utf-8"))["cells"]
    except FileNotFoundError:
        raise data_error(results, "benchmark results not found") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise data_error(results, f"not a benchmark results file ({one_line(err, 120)})") from None
    restored = present = left_out = 0
    stores, known = {}, set(cells(design))
    for entry in records:
        entry = dict(entry)
        cell = Cell(**entry.pop("cell"))
        if cell not in known:
            left_out += 1
            continue
        if cell.protocol not in stores:
            stores[cell.protocol] = protocol_store(design, cell.protocol)
        store, folds = stores[cell.protocol]
        split_name = cv_split_name(cell.protocol, cell.repeat, cell.fold)
        if entry["definition"] != definition(design, cell, store, split_name, folds[split_name]):
            raise data_error(results, f"cell {cell.command()} was made with another definition (design, store or "
                             "code changed); run it again instead")
        path = cell.folder(runs) / "cell.json"
        with exclusive_lock(cell.folder(runs) / ".lock", f"benchmark cell {cell.folder(runs)}"):
            if path.exists():
                if read_cell_record(path)["definition"] != entry["definition"]:
                    raise GazslError(f"{path}: a finished cell of another definition; delete {cell.folder(runs)} "
                                     "to restore it")
                present += 1
                continue
            write_json_atomic(path, entry)
            restored += 1
    return restored, present, left_out


def read_cell_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "definition" not in record or "rows" not in record:
            raise ValueError("not a benchmark cell record")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise GazslError(f"{path}: unreadable benchmark cell ({one_line(err, 120)}); delete its folder to rerun it") from None
    return record


def _row(figures: dict, chosen: dict) -> dict:
    return {**{k: figures[k] for k in ROW_KEYS}, **chosen}


def baseline_rows(name: str, text, store: FeatureStore, split_name: str, val_folds, seed: int,
                  plugin: str | None = None) -> tuple[dict, dict]:
    """A baseline, or the method ``plugin`` as the row ``name``, chosen on the mean over the validation folds, and
    (``first_fold``) on the first alone."""
    from threadpoolctl import threadpool_limits
    import torch

    from gazsl.progress import Progress
    from gazsl.protocols.protocol import baseline_maker, honest_baseline, refit_chosen

    # each setting on each validation fold, the final fit of the mean's choice, then that of the first fold's
    fits = len(method_plugins.resolve(plugin or name).candidates()) * len(val_folds or [None]) + 2
    with threadpool_limits(torch.get_num_threads()), Progress(f"{name} (the honest protocol's fits)", fits,
                                                              unit="fit") as progress:
        rows = {}
        chosen = honest_baseline(plugin or name, text, store, split_name, seed, val_folds=val_folds,
                                 progress=progress)
        first = refit_chosen(baseline_maker(plugin or name, seed), chosen.tried, text, store, split_name,
                             progress=progress)
        for rule, picked in (("folds", chosen), ("first_fold", first)):
            rows[rule] = _row({**picked.final, "val_top1_per_class": picked.validation["val_top1_per_class"]},
                              {"params": picked.params})
    return {name: {**rows["folds"], "first_fold": rows["first_fold"]}}, {"device": "cpu" if plugin else "cpu (numpy)"}


def gazsl_rows(design: dict, cell: Cell, store: FeatureStore, split_name: str, val_folds,
               folder: Path) -> tuple[dict, dict]:
    """One GAZSL training of the honest protocol over the validation folds: a row per classifier."""
    from gazsl.protocols.training import train

    spec = design["protocols"][cell.protocol]
    config = config_module.from_mapping(config_module.preset("cpu"),
                                        {**design["trainings"][cell.method], "text": spec["text"], "seed": cell.seed},
                                        f"{cell.method} of {folder}")
    out = folder / "run"
    metrics = train(split_name, config, out, "honest", "cpu", store=store, val_folds=val_folds,
                    resume=any(out.glob("checkpoint_*.pt")))
    rows = {}
    for c in design["classifiers"]:
        figures, first = metrics["by_classifier"][c], metrics["first_fold"][c]
        rows[f"{cell.method}_{c}"] = {**_row(figures, {"iterations": figures["iterations"]}),
                                      "first_fold": _row(first, {"iterations": first["iterations"]})}
    return rows, {k: metrics[k] for k in ("device", "device_name", "bf16", "bf16_reason")}


def collect(design: dict, runs: Path, protocols: list[str] | None = None) -> tuple[dict, list[Cell]]:
    """The finished cells' records by cell, and the cells still missing."""
    found, missing = {}, []
    for cell in cells(design, protocols):
        path = cell.folder(runs) / "cell.json"
        if path.exists():
            found[cell] = read_cell_record(path)
        else:
            missing.append(cell)
    return found, missing
