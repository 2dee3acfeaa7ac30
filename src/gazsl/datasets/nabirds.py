"""NABirds classes as GAZSL used them: 555 leaf classes merged into 404, with their families.

NABirds (``classes.txt``, ``hierarchy.txt``) is a tree of 1011 nodes: birds
-> groups (e.g. "Perching Birds") -> families (e.g. "Wrens") -> species ->
plumage variants such as "Allen's Hummingbird (Adult Male)". Images belong
to the 555 leaves. GAZSL merged the variants of a species back into the
species (its ``Mergetable.mat``: 288 rows child -> parent, shipped with gazsl
as ``gazsl/datasets/facts/nab_merge.tsv``), leaving 404 classes; GAZSL's class k is the
k-th of them by NABirds id.

The super-category of a class is its family: the nearest ancestor whose
name is not the class's own species name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazsl.io import data_error, read_utf8

_VARIANT = re.compile(r"\s*\([^)]*\)\s*$")  # "Black Scoter (Male)" -> "Black Scoter"


@dataclass
class NabirdsClasses:
    ids: np.ndarray  # (C,) int64 NABirds ids of the merged classes, ascending
    names: list[str]  # (C,)
    super_ids: np.ndarray  # (C,) int64 index into super_names
    super_names: list[str]


def _read_pairs(path: Path, what: str) -> list[tuple[int, str]]:
    text = read_utf8(path, f"NABirds {what}")
    pairs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        first, _, rest = line.strip().partition(" ")
        if not first.isdigit() or not rest.strip():
            raise data_error(path, f"expected '<id> <{what}>'", f"line {lineno}")
        pairs.append((int(first), rest.strip()))
    return pairs


def read_nabirds_classes(metadata_dir) -> NabirdsClasses:
    """The 404 merged classes from NABirds' ``classes.txt`` and ``hierarchy.txt`` and GAZSL's merge table."""
    from gazsl.datasets.dataset_facts import nabirds_merge

    meta = Path(metadata_dir)
    names = dict(_read_pairs(meta / "classes.txt", "name"))
    hierarchy_file = meta / "hierarchy.txt"
    parent = {}
    for child, par in _read_pairs(hierarchy_file, "parent id"):
        if not par.isdigit():
            raise data_error(hierarchy_file, f"parent of {child} is not an id: '{par}'")
        parent[child] = int(par)
    unknown = sorted(({c for c in parent} | set(parent.values())) - set(names))
    if unknown:
        raise data_error(hierarchy_file, f"ids not in classes.txt: {unknown[:5]}")
    merge = nabirds_merge()
    bad = next(((c, p) for c, p in merge.items() if parent.get(c) != p), None)
    if bad:
        raise data_error(hierarchy_file, f"GAZSL merges class {bad[0]} into {bad[1]}, which is not its parent here: "
                         "not the NABirds hierarchy")
    has_children = set(parent.values())
    leaves = {c for c in names if c not in has_children and c in parent}
    ids = np.array(sorted((leaves - set(merge)) | set(merge.values())), dtype=np.int64)

    families = []
    for cid in ids:
        own = _VARIANT.sub("", names[int(cid)])
        node = parent[int(cid)]
        while node in parent and _VARIANT.sub("", names[node]) == own:
            node = parent[node]
        families.append(names[node])
    super_names = sorted(set(families))
    index = {name: i for i, name in enumerate(super_names)}
    return NabirdsClasses(ids=ids, names=[names[int(c)] for c in ids],
                          super_ids=np.array([index[f] for f in families], dtype=np.int64), super_names=super_names)
