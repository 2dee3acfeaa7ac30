"""What a gazsl.tune trial sees (a store view without unseen classes) and what it runs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from gazsl.generator import config as config_module
from gazsl.generator.config import Config
from gazsl.generator.trainer import Phase, run_phase
from gazsl.progress import Progress
from gazsl.store.feature_store import FeatureStore, Split, TextVectors
from gazsl.io import GazslError
from gazsl.protocols.protocol import SELECT_KEY, Run, fit_on, honest_sets, images_of, local_labels, zsl_figures
from gazsl.scoring import methods as method_plugins
from gazsl.scoring import evaluate as ev
from gazsl.tuning.space import Param

VIEW_SPLIT = "validation"  # the one split of a seen_view: seen minus validation -> validation classes


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



# ------------------------------------------------------------------ trials
def gazsl_trial(trial, view: FeatureStore, base: Config, space: dict[str, Param], stop=None) -> float:
    """The honest protocol's selection run (gazsl.protocols.protocol.build_runs) on ``view``; evaluations go to the pruner."""
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

    phase = Phase("select", config.iterations, evaluate, watch=lambda record: {SELECT_KEY: record[SELECT_KEY]})
    model = Run(phase, split.seen, fit_images).model(config, text, view)
    with tempfile.TemporaryDirectory(prefix="gazsl-tune-") as scratch:  # run_phase checkpoints; a trial never resumes
        run_phase(phase, model, Path(scratch), resume=False, stop=stop,
                  progress=lambda done, total: Progress(f"trial {trial.number}", total, done))
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
    model = fit_on(method_plugins.resolve(method).maker(seed)(params), text, view, split.seen, fit_images)
    predicted = model.predict(text[split.unseen], view.features[val_images])
    return ev.top1(predicted, local_labels(view.labels[val_images], split.unseen))[1]

