"""The evaluation protocols, written once for every method: which images train, which choose, which test.

paper   The original evaluation, for comparison: the GAN is trained on all
        seen-class images; every ``eval_every`` iterations from ``eval_start``
        the unseen test set is scored, and both the last evaluation and the best
        one (selected on the test set itself: an oracle) are reported. GZSL uses
        the training images as the seen test set and a grid of calibrations.
honest  Model selection without test data: a model fitted on the seen classes
        minus the validation classes is scored on the validation classes; the
        best setting (GAZSL: the iteration count; a baseline: its
        hyper-parameters) and the GZSL calibration are chosen there; then a
        final model is fitted on all seen classes with that setting and scored
        once on the unseen classes. GZSL seen accuracy is measured on held-out
        images of seen classes that no fit ever sees.

Any method with the interface of ``gazsl.scoring.estimator`` is scored here: GAZSL
(``build_runs``, run by ``gazsl.train``), the baselines
(``gazsl.leaderboard``) and the text proxy (``experiments/text_encoders.py``)
through ``choose_and_refit``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gazsl.scoring import methods
from gazsl.scoring import evaluate as ev
from gazsl.generator.config import KNOWN_CLASSIFIERS, Config
from gazsl.io import GazslError
from gazsl.progress import Progress, Silent
from gazsl.store.feature_store import FeatureStore, Split
from gazsl.generator.gan import GAZSL, gzsl_classifier
from gazsl.generator.trainer import Phase, early_stops

PROTOCOLS = ("honest", "paper")
CLASSIFIERS = KNOWN_CLASSIFIERS  # every honest GAZSL run scores each of them (one training, several rows)
SELECT_KEY = "val_top1_per_class"  # what the honest protocol chooses by
FINAL_KEYS = ("zsl_top1", "zsl_top1_per_class", "ausuc", "gzsl_seen", "gzsl_unseen", "gzsl_h", "calibration")


def local_labels(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Class indices of a store as positions in ``classes``: the labels a method sees."""
    lookup = {int(c): i for i, c in enumerate(classes)}
    return np.array([lookup[int(c)] for c in labels], dtype=np.int64)


def images_of(store: FeatureStore, classes: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.isin(store.labels, classes))


def scored(images: np.ndarray, split: Split) -> np.ndarray:
    """``images`` but those the split never scores (``Split.unscored_images``: their descriptions made a strict text)."""
    return np.setdiff1d(images, split.unscored_images) if len(split.unscored_images) else images


def scored_text(store: FeatureStore, split_name: str, text_name: str) -> np.ndarray:
    """(C, T) text vectors ``text_name`` for evaluations on ``split_name``, refused where the text read the descriptions
    of a photograph that the split may score (a strict text belongs with a ``*_strict`` split)."""
    text, split = store.text(text_name), store.split(split_name)
    if text.described_images is not None:
        exposed = np.setdiff1d(text.described_images, split.unscored_images)
        if len(exposed):
            strict = f"{split_name}_strict"
            hint = f"; evaluate it on {strict}" if strict in store.splits else ""
            raise GazslError(f"{store.path or store.dataset}: text '{text_name}' read the descriptions of {len(exposed)} "
                             f"photographs that split '{split_name}' scores{hint}")
    return text.vectors


@dataclass
class HonestSets:
    """The image sets of the honest protocol, the same for every method."""

    val_classes: np.ndarray  # the validation classes: the selection's unseen classes
    fit_classes: np.ndarray  # seen minus validation classes: the selection fits train on them
    fit_images: np.ndarray  # their images but the held-out ones
    fit_heldout: np.ndarray  # held-out images of fit_classes: the selection's GZSL seen test set
    val_images: np.ndarray  # images of the validation classes: the selection's unseen test set
    train_images: np.ndarray  # images of all seen classes but the held-out ones: the final fit trains on them
    heldout: np.ndarray  # held-out images of seen classes: the final GZSL seen test set
    unseen_images: np.ndarray  # the final unseen test set


def honest_sets(store: FeatureStore, split: Split, val: np.ndarray | None = None) -> HonestSets:
    """The split's image sets, validating on ``val`` (a subset of its seen classes; default: the split's own).

    Every set that is scored leaves out the split's unscored images; the sets that are trained on keep them.
    """
    val = split.val if val is None else np.sort(np.asarray(val, dtype=np.int64))
    held_out = np.asarray(split.heldout_images)
    fit_classes = np.setdiff1d(split.seen, val)
    return HonestSets(
        val_classes=val,
        fit_classes=fit_classes,
        fit_images=np.setdiff1d(images_of(store, fit_classes), held_out),
        fit_heldout=scored(held_out[np.isin(store.labels[held_out], fit_classes)], split),
        val_images=scored(images_of(store, val), split),
        train_images=np.setdiff1d(images_of(store, split.seen), held_out),
        heldout=scored(held_out, split),
        unseen_images=scored(images_of(store, split.unseen), split),
    )


# ---------------------------------------------------------------- scoring any method
def fit_inputs(text: np.ndarray, store: FeatureStore, classes: np.ndarray,
               images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What a method is fitted on to learn ``classes`` from ``images``: their text vectors (rows of ``text``),
    the images' features and their labels as positions in ``classes``."""
    return text[classes], store.features[images], local_labels(store.labels[images], classes)


@dataclass
class Run:
    """One GAN training of a protocol: the trainer's phase, and the classes and images the protocol trains it on."""

    phase: Phase
    classes: np.ndarray  # (S,) class indices
    images: np.ndarray  # (N,) image indices, all of those classes

    def model(self, config: Config, text: np.ndarray, store: FeatureStore, **settings) -> GAZSL:
        """The GAZSL this run trains (``settings``: the estimator's other arguments), initialised on its classes'
        text and images: the one set-up of every protocol run, tuning trial and probe."""
        return GAZSL(config, **settings).initialise(*fit_inputs(text, store, self.classes, self.images),
                                                    [store.class_names[c] for c in self.classes])


def fit_on(model, text: np.ndarray, store: FeatureStore, classes: np.ndarray, images: np.ndarray):
    """``model`` fitted on ``images`` of ``classes``, whose text vectors are rows of ``text`` (C, T)."""
    return model.fit(*fit_inputs(text, store, classes, images))


def zsl_problem(model, text: np.ndarray, store: FeatureStore, classes: np.ndarray,
                images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores (M, C) of ``images`` among ``classes`` alone, labels (M,) into them)."""
    return model.scores(text[classes], store.features[images]), local_labels(store.labels[images], classes)


def zsl_figures(model, text: np.ndarray, store: FeatureStore, classes: np.ndarray, images: np.ndarray) -> dict:
    """Top-1 (%, per sample and mean per class) of ``images`` classified among ``classes`` alone."""
    return _top1_figures(*zsl_problem(model, text, store, classes, images))


def _top1_figures(scores: np.ndarray, labels: np.ndarray) -> dict:
    per_sample, per_class = ev.top1(scores.argmax(axis=1), labels)
    return {"zsl_top1": per_sample, "zsl_top1_per_class": per_class}


def gzsl_problem(model, text: np.ndarray, store: FeatureStore, seen: np.ndarray, unseen: np.ndarray,
                 images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores (M, S + U) over seen then unseen classes, labels (M,) into them, unseen mask (S + U,))."""
    classes = np.concatenate([seen, unseen])
    scores = model.gzsl_scores(text[classes], store.features[images])
    unseen_mask = np.r_[np.zeros(len(seen), bool), np.ones(len(unseen), bool)]
    return scores, local_labels(store.labels[images], classes), unseen_mask


def validation_figures(model, text: np.ndarray, store: FeatureStore, split: Split, sets: HonestSets) -> dict:
    """A model fitted on ``sets.fit_classes``, on the validation classes: its top-1 there, the best GZSL calibration,
    and the temperatures that turn its scores into probabilities (``ev.fit_temperature``): ``temperature`` among the
    validation classes alone, ``gzsl_temperature`` among them and the fit classes, at that calibration."""
    scores, labels = zsl_problem(model, text, store, sets.val_classes, sets.val_images)
    figures = _top1_figures(scores, labels)
    gzsl_scores, gzsl_labels, unseen_mask = gzsl_problem(model, text, store, sets.fit_classes, sets.val_classes,
                                                         np.concatenate([sets.fit_heldout, sets.val_images]))
    calibration = ev.best_calibration(ev.gzsl_exact_curve(gzsl_scores, gzsl_labels, unseen_mask))
    return {"val_top1": figures["zsl_top1"], "val_top1_per_class": figures["zsl_top1_per_class"],
            "calibration": calibration, "temperature": ev.fit_temperature(scores, labels),
            "gzsl_temperature": ev.fit_temperature(gzsl_scores + calibration * unseen_mask, gzsl_labels)}


def final_figures(model, text: np.ndarray, store: FeatureStore, split: Split, sets: HonestSets,
                  calibration: float) -> dict:
    """A model fitted on all seen training images, scored once: ZSL on the unseen classes, GZSL (exact curve; H at
    ``calibration``) on held-out seen and unseen images."""
    figures = zsl_figures(model, text, store, split.unseen, sets.unseen_images)
    problem = gzsl_problem(model, text, store, split.seen, split.unseen,
                           np.concatenate([sets.heldout, sets.unseen_images]))
    curve = ev.gzsl_exact_curve(*problem)
    seen, unseen, h = ev.gzsl_at(*problem, calibration)
    return {**figures, "ausuc": curve.ausuc(), "gzsl_seen": seen, "gzsl_unseen": unseen, "gzsl_h": h,
            "calibration": calibration, "curve": curve}


@dataclass
class Chosen:
    """What ``choose_and_refit`` found: the setting, its validation figures, and the final model and figures."""

    params: object
    validation: dict
    final: dict
    model: object
    tried: list = None  # (params, [validation figures per validation fold]) of every candidate


def mean_figures(per_fold: list[dict]) -> dict:
    """Validation figures of several validation folds as one: the mean of each, and each fold's under ``folds``.

    One fold's figures are returned as they are, so that a single-fold protocol is unchanged.
    """
    if len(per_fold) == 1:
        return per_fold[0]
    keys = ("val_top1", "val_top1_per_class", "calibration", "temperature", "gzsl_temperature")
    return {**{k: float(np.mean([f[k] for f in per_fold])) for k in keys},
            "folds": [{k: f[k] for k in keys} for f in per_fold]}


def choose_and_refit(make, candidates, text: np.ndarray, store: FeatureStore, split_name: str,
                     select_key: str = SELECT_KEY, val_folds: list[np.ndarray] | None = None,
                     progress: Progress | Silent | None = None) -> Chosen:
    """The honest protocol for a method with settings to choose: ``make(params)`` is an unfitted model.

    Each candidate is fitted on the fit classes and scored on the validation
    classes; the first with the best ``select_key`` is refitted on every seen
    training image and scored once (``final_figures``) at its validation calibration.
    With ``val_folds`` (disjoint sets of seen classes), each candidate is fitted and
    scored once per validation fold and chosen by the mean of its figures (``mean_figures``).
    ``text``: (C, T) class vectors, or a function of the fit classes returning them, for text whose making
    learns from images (``gazsl.documents.relevance.RelevanceText``): it is asked once per validation fold with
    that fold's fit classes and once with every seen class for the final fit.
    ``progress``: told of each fit as it ends (candidates x validation folds, then the final one).
    """
    progress = progress or Silent()
    split = store.split(split_name)
    fold_sets = [honest_sets(store, split, val) for val in (val_folds or [None])]
    fold_texts = [text(sets.fit_classes) if callable(text) else text for sets in fold_sets]
    best, tried = None, []
    for params in candidates:
        per_fold = []
        for sets, t in zip(fold_sets, fold_texts):
            per_fold.append(validation_figures(fit_on(make(params), t, store, sets.fit_classes, sets.fit_images),
                                               t, store, split, sets))
            progress.update()
        tried.append((params, per_fold))
        figures = mean_figures(per_fold)
        if best is None or figures[select_key] > best[1][select_key]:
            best = (params, figures)
    params, validation = best
    sets = fold_sets[0]  # the final fit and test sets do not depend on the validation classes
    text = text(split.seen) if callable(text) else text
    model = fit_on(make(params), text, store, split.seen, sets.train_images)
    progress.update()
    return Chosen(params, validation, final_figures(model, text, store, split, sets, validation["calibration"]), model,
                  tried)


def refit_chosen(make, tried: list, text: np.ndarray, store: FeatureStore, split_name: str,
                 select_key: str = SELECT_KEY, progress: Progress | Silent | None = None) -> Chosen:
    """The honest protocol's choice among ``tried`` (params, [figures]) on the first validation fold alone, refitted
    on every seen training image: what a single-fold protocol would have chosen, without fitting the candidates again."""
    split = store.split(split_name)
    params, per_fold = max(tried, key=lambda t: t[1][0][select_key])  # the first if tied, as choose_and_refit
    sets = honest_sets(store, split)
    model = fit_on(make(params), text, store, split.seen, sets.train_images)
    (progress or Silent()).update()
    return Chosen(params, per_fold[0], final_figures(model, text, store, split, sets, per_fold[0]["calibration"]),
                  model, tried)


def honest_baseline(name: str, text: np.ndarray, store: FeatureStore, split_name: str, seed: int,
                    candidates: list[dict] | None = None, val_folds: list[np.ndarray] | None = None,
                    progress: Progress | Silent | None = None) -> Chosen:
    """A method without a GAN of its own under the honest protocol: a baseline (``gazsl.scoring.baselines``) or a
    plugin (``gazsl.scoring.methods``), its settings chosen among ``candidates`` (default: its grid) on the
    validation classes (``val_folds``: several, chosen by their mean)."""
    spec = methods.resolve(name)
    return choose_and_refit(spec.maker(seed), candidates or spec.candidates(), text, store, split_name,
                            val_folds=val_folds, progress=progress)


def baseline_maker(name: str, seed: int):
    """params -> an unfitted method ``name``; ``seed`` goes to its ``random_state`` (of the baselines, WAC-linear's
    L-BFGS starting point only)."""
    return methods.resolve(name).maker(seed)


# ---------------------------------------------------------------- GAZSL's runs
def build_runs(store: FeatureStore, split_name: str, config: Config, protocol: str,
                 val_folds: list[np.ndarray] | None = None) -> tuple[list[Run], object]:
    """GAZSL's training runs under a protocol, and a function that turns their phases' histories into metrics.

    ``val_folds``: the honest protocol's validation classes, several disjoint sets of seen classes (default: the
    split's own one).

    The evaluations score the model being trained (``gazsl.generator.gan.GAZSL``) at an iteration: ``(model, it) -> figures``.
    """
    split = store.split(split_name)
    text = scored_text(store, split_name, config.text)
    no_evaluation = GazslError(f"no evaluation ran: --iters {config.iterations} is below eval_start {config.eval_start}")

    if protocol == "paper":
        train_images = images_of(store, split.seen)  # the GZSL "seen" test set is these same images (those scored)
        unseen_images = scored(images_of(store, split.unseen), split)

        def evaluate_paper(model, it):
            figures = zsl_figures(model, text, store, split.unseen, unseen_images)
            problem = gzsl_problem(model, text, store, split.seen, split.unseen,
                                   np.concatenate([scored(train_images, split), unseen_images]))
            curve = ev.paper_gzsl_curve(*problem)
            return {"iteration": it, **figures, "ausuc": curve.ausuc(), "curve": curve}

        paper = Run(Phase("paper", config.iterations, evaluate_paper), split.seen, train_images)

        def summarise():
            history = paper.phase.history
            if not history:
                raise no_evaluation
            last, best = history[-1], max(history, key=lambda h: h["zsl_top1"])
            return {
                "zsl_top1": last["zsl_top1"], "zsl_top1_per_class": last["zsl_top1_per_class"], "ausuc": last["ausuc"],
                "zsl_top1_best": best["zsl_top1"], "zsl_top1_per_class_best": best["zsl_top1_per_class"],
                "ausuc_best": max(h["ausuc"] for h in history), "best_iteration": best["iteration"],
                "best_selected_on": "unseen test set (oracle selection, as the original code)",
                "iterations": last["iteration"],
                "curve": last["curve"],
            }

        return [paper], summarise

    # honest protocol: the selection run chooses each classifier's iteration count, the final run trains to the
    # longest and scores each classifier at its own (training does not depend on the classifier, and evaluations
    # draw from their own random streams, so this is what a run of each classifier alone would give).
    # With several validation folds there is one selection run per fold, and each classifier's iteration count is
    # chosen on the mean of their evaluations (those all runs reached), with the same early stopping; the choice of
    # the first fold alone is scored too (``first_fold``), to compare selection on one fold with selection on all.
    fold_sets = [honest_sets(store, split, val) for val in (val_folds or [None])]
    sets = fold_sets[0]  # the final run's sets do not depend on the validation classes

    def evaluator(fold: HonestSets):
        def evaluate_selection(model, it):
            with model.sharing_scores():
                by_classifier = {c: validation_figures(model.with_classifier(c), text, store, split, fold)
                                 for c in CLASSIFIERS}
            return {"iteration": it, **by_classifier[config.classifier], "by_classifier": by_classifier}
        return evaluate_selection

    def watch(record):
        return {c: f[SELECT_KEY] for c, f in record["by_classifier"].items()}

    selections = [Phase("select" if len(fold_sets) == 1 else f"select{j}", config.iterations, evaluator(fold),
                        watch=watch) for j, fold in enumerate(fold_sets)]

    def chosen(runs: list[Phase]) -> dict[str, dict]:  # classifier -> the (mean) selection evaluation it chose
        if not all(run.history for run in runs):
            raise no_evaluation
        reached = min(len(run.history) for run in runs)
        history = [{"iteration": records[0]["iteration"],
                    "by_classifier": {c: mean_figures([r["by_classifier"][c] for r in records]) for c in CLASSIFIERS}}
                   for records in zip(*(run.history[:reached] for run in runs))] if len(runs) > 1 else runs[0].history
        return {c: record for c, (record, _) in early_stops(history, watch, config.patience).items()}

    def choices() -> dict[str, dict[str, dict]]:  # rule -> classifier -> chosen evaluation
        rules = {"by_classifier": chosen(selections)}
        if len(selections) > 1:
            rules["first_fold"] = chosen(selections[:1])
        return rules

    def evaluate_final(model, it):
        with model.sharing_scores():
            record = {"iteration": it, **{rule: {
                c: final_figures(model.with_classifier(c), text, store, split, sets, best["by_classifier"][c]["calibration"])
                for c, best in picked.items() if best["iteration"] == it} for rule, picked in choices().items()}}
        return record

    # the run's model is its classifier's, at the iteration count chosen for it: kept, as training goes on for others
    final = Phase("final", 0, evaluate_final, periodic=False,
                  plan=lambda: sorted({best["iteration"] for picked in choices().values() for best in picked.values()}),
                  keep_at=lambda: choices()["by_classifier"][config.classifier]["iteration"])

    def rows(rule: str, picked: dict[str, dict]) -> dict[str, dict]:
        finals = {c: figures for record in final.history for c, figures in record[rule].items()}
        return {c: {**{k: finals[c][k] for k in FINAL_KEYS}, "gzsl_classifier": gzsl_classifier(c),
                    "iterations": best["iteration"], "val_top1": best["by_classifier"][c]["val_top1"],
                    "val_top1_per_class": best["by_classifier"][c][SELECT_KEY],
                    **{k: best["by_classifier"][c][k] for k in ("temperature", "gzsl_temperature")},
                    **({"val_folds": best["by_classifier"][c]["folds"]} if "folds" in best["by_classifier"][c] else {})}
                for c, best in picked.items()}

    def summarise():
        by_rule = {rule: rows(rule, picked) for rule, picked in choices().items()}
        by_classifier = by_rule["by_classifier"]
        finals = {c: figures for record in final.history for c, figures in record["by_classifier"].items()}
        return {
            **by_classifier[config.classifier], "curve": finals[config.classifier]["curve"],
            "n_val_classes": len(split.val), "n_heldout_seen_images": len(sets.heldout),
            **({"validation_folds": [fold.val_classes.tolist() for fold in fold_sets],
                "first_fold": by_rule["first_fold"]} if len(fold_sets) > 1 else {}),
            "by_classifier": by_classifier,
        }
    return ([Run(phase, fold.fit_classes, fold.fit_images) for phase, fold in zip(selections, fold_sets)]
            + [Run(final, split.seen, sets.train_images)], summarise)
