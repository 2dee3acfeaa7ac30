"""The probabilities gazsl predict and gazsl serve show: a softmax of the model's scores at a temperature fitted, when
the model is trained, on its validation classes alone, and saved in the model file (docs/serving-probabilities.md)."""

import dataclasses
import json

import numpy as np

from conftest import make_toy_store
from gazsl.generator.config import preset
from gazsl.generator.gan import GAZSL
from gazsl.protocols.training import train
from gazsl.store.feature_store import FeatureStore, TextVectors


def trained(store: FeatureStore, tiny_config_file, out) -> GAZSL:
    """The model file of a short honest run on the toy store (20 iterations, evaluated at 10 and 20)."""
    config = preset("cpu").replace(**json.loads(tiny_config_file.read_text()), iterations=20, device="cpu")
    train("toy_easy", config, out, store=store)
    return GAZSL.load(out / "model.gazsl")


def changed(store: FeatureStore, classes: np.ndarray, seed: int, text: bool) -> FeatureStore:
    """A copy of ``store`` whose images of ``classes`` are other features (and, with ``text``, their text vectors)."""
    rng = np.random.default_rng(seed)
    features = store.features.copy()
    images = np.isin(store.labels, classes)
    features[images] = rng.permutation(features[images], axis=1)  # the same values, the dimensions shuffled
    vectors = store.text("tfidf").vectors.copy()
    if text:
        vectors[classes] = rng.normal(size=vectors[classes].shape).astype(vectors.dtype)
    texts = {**store.texts, "tfidf": dataclasses.replace(store.text("tfidf"), vectors=vectors)}
    return dataclasses.replace(store, features=features, texts=texts)


def test_the_temperatures_come_from_the_validation_classes_alone(tmp_path, tiny_config_file):
    store = FeatureStore.open(make_toy_store(tmp_path / "toy.h5"))
    split = store.split("toy_easy")
    model = trained(store, tiny_config_file, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    temperatures = (model.temperature_, model.gzsl_temperature_)
    assert all(0 < t < np.inf for t in temperatures)
    assert temperatures == (metrics["temperature"], metrics["gzsl_temperature"])  # the run's classifier's (kNN)

    # the unseen classes' photographs and texts changed: the test figures move, the temperatures do not
    unseen = changed(store, split.unseen, seed=1, text=True)
    again = trained(unseen, tiny_config_file, tmp_path / "unseen_changed")
    assert json.loads((tmp_path / "unseen_changed" / "metrics.json").read_text())["zsl_top1"] != metrics["zsl_top1"]
    assert (again.temperature_, again.gzsl_temperature_) == temperatures

    # the validation classes' photographs changed: other temperatures (what the test above would miss)
    validation = trained(changed(store, split.val, seed=1, text=False), tiny_config_file, tmp_path / "val_changed")
    assert validation.temperature_ != model.temperature_ and validation.gzsl_temperature_ != model.gzsl_temperature_
