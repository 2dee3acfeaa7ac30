"""How splits are designed: a split's validation classes and held-out images (``make_split``), and cross-validation
over classes: folds of a dataset's classes, each unseen once, and validation folds of the rest.

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
from gazsl.store.feature_store import VAL_RULES, Split

VAL_CLASS_FRACTION = 0.2
HELDOUT_IMAGE_FRACTION = 0.2
FOLD_RULES = ("random", "family")


def val_rule_for(split_name: str) -> str:
    """The validation rule that mirrors a split: hard splits (``*_hard``, CUB's SCE) hold out whole families, and
    so does their validation; easy splits (SCS) hold out species of every family, and their validation random ones."""
    return "family" if split_name.endswith("_hard") else "random"


def whole_families(classes, families: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Whole families of ``classes``, in random order, until about ``fraction`` of the classes are taken.

    ``families`` (C,) is the family id of every class. A family that would move the
    count further from the target than leaving it out is skipped; the first one never is.
    """
    classes = np.asarray(classes)
    family_of = np.asarray(families)[classes]
    present = np.unique(family_of)
    target = fraction * len(classes)
    taken: list[int] = []
    for f in present[rng.permutation(len(present))]:
        members = classes[family_of == f].tolist()
        if taken and abs(len(taken) + len(members) - target) >= abs(len(taken) - target):
            continue
        taken += members
        if len(taken) >= target:
            break
    return np.sort(np.array(taken, dtype=np.int64))


def make_split(name: str, seen, unseen, labels, seed: int = 0, val_rule: str = "random", families=None,
               val_fraction: float = VAL_CLASS_FRACTION,
               heldout_fraction: float = HELDOUT_IMAGE_FRACTION) -> Split:
    """A split with a fixed validation subset of seen classes and held-out seen images.

    Both are drawn from ``seed`` alone, so every run and every method sees the
    same held-out data. ``val_rule`` makes validation mirror the split (``val_rule_for``):
    "random" draws about ``val_fraction`` of the seen classes; "family" takes whole
    families of them (``families``: (C,) family id of every class), about as many
    classes, so that no validation class shares a family with the classes a
    selection run trains on, as no unseen class does in a split of whole families.
    """
    if val_rule not in VAL_RULES:
        raise GazslError(f"split '{name}': unknown validation rule {val_rule!r} (known: {', '.join(VAL_RULES)})")
    rng = np.random.default_rng(seed)
    seen = np.sort(np.asarray(seen, dtype=np.int64))
    unseen = np.sort(np.asarray(unseen, dtype=np.int64))
    n_val = max(1, int(round(val_fraction * len(seen)))) if len(seen) > 1 else 0
    # Drawn under either rule: the held-out images below come next from the same stream, so they do not depend on
    # the rule (and an easy split keeps the draws it always had).
    val = np.sort(rng.choice(seen, size=n_val, replace=False)) if n_val else np.zeros(0, np.int64)
    if val_rule == "family":
        if families is None:
            raise GazslError(f"split '{name}': the 'family' validation rule needs the family of every class")
        n_families = len(np.unique(np.asarray(families)[seen]))
        if n_families < 2:
            raise GazslError(f"split '{name}': the 'family' validation rule needs seen classes of at least 2 families, "
                             f"got {n_families}")
        val = whole_families(seen, families, val_fraction, np.random.default_rng([seed, 1]))
    heldout = []
    labels = np.asarray(labels)
    for c in seen:
        idx = np.flatnonzero(labels == c)
        n_hold = int(round(heldout_fraction * len(idx)))
        if len(idx) - n_hold < 1:
            n_hold = len(idx) - 1
        if n_hold > 0:
            heldout.append(rng.choice(idx, size=n_hold, replace=False))
    heldout_images = np.sort(np.concatenate(heldout)) if heldout else np.zeros(0, np.int64)
    return Split(name=name, seen=seen, unseen=unseen, val=val, heldout_images=heldout_images.astype(np.int64),
                 val_rule=val_rule)


def described_half(labels, seed: int = 0) -> np.ndarray:
    """(K,) sorted image indices: half of each class's photographs (the smaller half of an odd count), drawn from
    ``seed`` alone. Their descriptions make a class's strict text; the other half alone is ever scored with it."""
    rng = np.random.default_rng([seed, 32])
    labels = np.asarray(labels)
    halves = [rng.permutation(np.flatnonzero(labels == c))[:int(np.sum(labels == c)) // 2] for c in np.unique(labels)]
    return np.sort(np.concatenate(halves)).astype(np.int64) if halves else np.zeros(0, np.int64)


def strict_split(split: Split, described: np.ndarray) -> Split:
    """``split`` (same classes, validation classes and held-out images, named ``<name>_strict``) where no evaluation
    scores the ``described`` images: what a text read from their descriptions may be evaluated on."""
    return Split(name=f"{split.name}_strict", seen=split.seen, unseen=split.unseen, val=split.val,
                 heldout_images=split.heldout_images, val_rule=split.val_rule,
                 unscored_images=np.asarray(described, dtype=np.int64))


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
