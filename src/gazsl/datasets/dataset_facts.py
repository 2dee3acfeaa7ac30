"""What gazsl knows about CUB-200-2011 and NABirds without any download: classes, GAZSL's splits, the NABirds merge.

The facts are small text files shipped inside the package (``gazsl/datasets/facts/``,
sources in its README.md), so that no step needs the GAZSL release or the
datasets' metadata to name the classes or to split them:

* ``cub_classes.tsv``: the 200 CUB-200-2011 classes, id and name;
* ``nab_classes.tsv``: GAZSL's 404 NABirds classes (NABirds ids), name and family;
* ``nab_merge.tsv``: the 288 NABirds plumage-variant classes GAZSL merged into their species;
* ``splits.json``: GAZSL's SCS (easy) and SCE (hard) seen/unseen classes, in the dataset's own ids.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from gazsl.io import GazslError

DATASETS = ("cub", "nab")
MODES = {"easy": "SCS", "hard": "SCE"}  # GAZSL's split names: super-category-shared, super-category-exclusive


@dataclass
class ClassInfo:
    ids: np.ndarray  # (C,) the dataset's ids, ascending; GAZSL's 1-based class k is ids[k-1]
    names: list[str]  # (C,)
    super_ids: np.ndarray  # (C,) int64 index into super_names
    super_names: list[str]  # families, sorted

    def subset(self, ids) -> "ClassInfo":
        """The classes with these ids (ascending), their families renumbered among those kept."""
        ids = np.sort(np.asarray(ids, dtype=np.int64))
        rows = np.searchsorted(self.ids, ids)
        families = [self.super_names[self.super_ids[r]] for r in rows]
        return _with_families(ids, [self.names[r] for r in rows], families)


def _with_families(ids, names: list[str], families: list[str]) -> ClassInfo:
    super_names = sorted(set(families))
    index = {f: i for i, f in enumerate(super_names)}
    return ClassInfo(ids=np.asarray(ids, dtype=np.int64), names=list(names),
                     super_ids=np.array([index[f] for f in families], dtype=np.int64), super_names=super_names)


def cub_family(name: str) -> str:
    """The family word of a CUB class name: 'Black_footed_Albatross' -> 'Albatross'."""
    return name.replace("-", "_").split("_")[-1].strip() or name


def _rows(file: str) -> list[list[str]]:
    """The data rows of a shipped TSV file: '#' comment lines and the header row skipped."""
    lines = [line for line in resources.files("gazsl.datasets").joinpath("facts", file).read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return [line.split("\t") for line in lines[1:]]


@functools.lru_cache(maxsize=None)
def _classes(dataset: str) -> ClassInfo:
    if dataset == "cub":
        rows = _rows("cub_classes.tsv")
        return _with_families([int(r[0]) for r in rows], [r[1] for r in rows], [cub_family(r[1]) for r in rows])
    if dataset == "nab":
        rows = _rows("nab_classes.tsv")
        return _with_families([int(r[0]) for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    raise GazslError(f"unknown dataset '{dataset}' (available: {', '.join(DATASETS)})")


def dataset_classes(dataset: str) -> ClassInfo:
    """All classes of ``dataset`` as GAZSL numbers them (CUB: ids 1..200; NABirds: the 404 merged ids)."""
    info = _classes(dataset)
    return ClassInfo(info.ids.copy(), list(info.names), info.super_ids.copy(), list(info.super_names))


@functools.lru_cache(maxsize=None)
def _splits() -> dict:
    return json.loads(resources.files("gazsl.datasets").joinpath("facts", "splits.json").read_text(encoding="utf-8"))["splits"]


def gazsl_split(dataset: str, mode: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(seen ids, unseen ids, where they come from) of GAZSL's ``mode`` ('easy' = SCS, 'hard' = SCE) split."""
    if dataset not in DATASETS or mode not in MODES:
        raise GazslError(f"no GAZSL split '{dataset}_{mode}' (available: cub_easy, cub_hard, nab_easy, nab_hard)")
    split = _splits()[f"{dataset}_{mode}"]
    source = f"GAZSL {split['protocol']} ({split['file']} of the GAZSL release, shipped in gazsl/datasets/facts/splits.json)"
    return np.array(split["seen"], dtype=np.int64), np.array(split["unseen"], dtype=np.int64), source


@functools.lru_cache(maxsize=None)
def nabirds_merge() -> dict[int, int]:
    """NABirds id of a merged plumage-variant class -> id of the species it was merged into (288 entries)."""
    return {int(child): int(parent) for child, parent in _rows("nab_merge.tsv")}
