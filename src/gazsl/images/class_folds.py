"""Cross-validation over classes: folds of a dataset's classes, each unseen once, and validation folds of the rest.

A benchmark that tests on one split's 23 classes measures the class draw as much as the method: a method's top-1
moves by several points between random class splits. Here every class is unseen exactly once per repeat, and
settings are chosen on several disjoint validation folds of the seen classes instead of one draw.

rule "random"  classes are dealt to folds at random (SCS-like: unseen classes have seen relatives).
rule "family"  whole families are dealt to folds (SCE-like: no unseen class shares a family with a seen one),
               and validation folds are whole families of the seen classes likewise.
"""

from __future__ import annotations

import numpy as np

from gazsl.io import GazslError
from gazsl.images.store import Split, make_split

FOLD_RULES = ("random", "family")


def class_folds(classes, n_folds: int, rule: str, seed: int, families=None) -> list[np.ndarray]:
    """``classes`` dealt into ``n_folds`` disjoint folds covering them all, each sorted.

    "random": a random permutation cut into folds whose sizes differ by at most one. "family": whole families
    (``families``: (C,) family id of every class index), largest first in random order among equals, each to the
    fold with the fewest classes so far, so that fold sizes stay as even as the families allow.
    """
    if rule not in FOLD_RULES:
        raise GazslError(f"unknown fold rule {rule!r} (known: {', '.join(FOLD_RULES)})")
    classes = np.sort(np.asarray(classes, dtype=np.int64))
    if n_folds < 2 or n_folds > len(classes):
        raise GazslError(f"{n_folds} folds of {len(classes)} classes: need 2 <= folds <= classes")
    rng = np.random.default_rng(seed)
    if rule == "random":
        return [np.sort(part) for part in np.array_split(rng.permutation(classes), n_folds)]
    if families is None:
        raise GazslError("the 'family' fold rule needs the family of every class")
    family_of = np.asarray(families)[classes]
    groups = [classes[family_of == f] for f in np.unique(family_of)]
    if len(groups) < n_folds:
        raise GazslError(f"{n_folds} family folds of {len(groups)} families: need at least as many families as folds")
    order = sorted(range(len(groups)), key=lambda g: (-len(groups[g]), rng.random()))
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for g in order:
        smallest = min(range(n_folds), key=lambda k: (len(folds[k]), k))
        folds[smallest] += groups[g].tolist()
    return [np.sort(np.array(f, dtype=np.int64)) for f in folds]


def validation_folds(seen, n_folds: int, fraction: float, rule: str, seed: int, families=None) -> list[np.ndarray]:
    """``n_folds`` disjoint validation sets of the ``seen`` classes, each about ``fraction`` of them.

    "random": disjoint random draws. "family": whole families of seen classes, dealt as ``class_folds`` deals them
    to ``round(1 / fraction)`` groups, of which the first ``n_folds`` are taken (no validation class shares a family
    with the classes its selection run trains on).
    """
    seen = np.sort(np.asarray(seen, dtype=np.int64))
    groups = max(n_folds, int(round(1 / fraction)))
    return class_folds(seen, groups, rule, seed, families)[:n_folds]


def cv_split_name(protocol: str, repeat: int, fold: int) -> str:
    """The name of one fold's split, e.g. cub100_scs_r0f3."""
    return f"{protocol}_r{repeat}f{fold}"


def cv_splits(protocol: str, n_classes: int, labels, n_folds: int, repeats: int, rule: str, seed: int,
              n_val_folds: int, families=None) -> list[tuple[Split, list[np.ndarray]]]:
    """Every fold of every repeat as (its split, its validation folds): fold k of repeat r is unseen, the rest seen.

    The repeats' assignments come from ``[seed, r]``; each fold's validation folds and held-out seen images from
    ``[seed, r, k]``. The split's ``val`` is its first validation fold (what a single-fold protocol would use).
    """
    out = []
    for r in range(repeats):
        for k, unseen in enumerate(class_folds(np.arange(n_classes), n_folds, rule, [seed, r], families)):
            seen = np.setdiff1d(np.arange(n_classes), unseen)
            fold_seed = [seed, r, k]
            val = validation_folds(seen, n_val_folds, 0.2, rule, fold_seed, families)
            split = make_split(cv_split_name(protocol, r, k), seen, unseen, labels, seed=int(np.random.default_rng(
                fold_seed).integers(2**31)), val_rule=rule, families=families)
            split.val = val[0]
            out.append((split, val))
    return out
