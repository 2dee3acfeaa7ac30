"""Encoder plugins: a function of the user's that turns documents into class vectors.

``gazsl text encode --encoder mypkg.mod:encode`` (or the name of an entry point in group ``gazsl.encoders``) calls
``encode(documents: list[str])`` and expects an array-like of shape (len(documents), T), finite. Its recipe is its
import path and its package's version (``gazsl.plugins``): a model trained on its vectors imports it again to encode
new articles, and refuses where the installed version differs from the one that made its training vectors.
"""

from __future__ import annotations

import numpy as np

from gazsl.documents.corpus import Corpus
from gazsl.io import GazslError, one_line
from gazsl.plugins import entry_point_names, load_plugin
from gazsl.store.feature_store import TextVectors

GROUP = "gazsl.encoders"
ENCODER = "plugin"  # the recipe's encoder


def is_plugin(name: str) -> bool:
    """Whether an --encoder names a plugin: an import path, or an installed entry point of GROUP."""
    return ":" in name or name in entry_point_names(GROUP)


class PluginEncoder:
    """Encodes documents with the function a plugin names; imported on first use, so that a model file records the
    plugin even where it cannot be imported."""

    def __init__(self, spec: str, recorded: dict | None = None):
        self.spec, self._recorded = spec, recorded  # recorded: a model's recipe, whose package version must match
        self._plugin = None

    @property
    def plugin(self):
        if self._plugin is None:
            plugin = load_plugin(self.spec, GROUP, "encoder plugin")
            wanted = self._recorded.get("package_version") if self._recorded is not None else plugin.version
            if plugin.version != wanted:
                raise GazslError(f"encoder plugin '{plugin.import_path}' made this model's text as version "
                                 f"{wanted or '(no package)'}; version {plugin.version or '(no package)'} is "
                                 "installed here: install the version the model was trained with")
            self._plugin = plugin
        return self._plugin

    def encode(self, documents, names=None) -> np.ndarray:
        documents = list(documents)
        plugin = self.plugin
        label = f"encoder plugin '{plugin.import_path}'"
        try:
            result = plugin.target(documents)
        except Exception as err:  # the plugin's own failure, whatever it is
            raise GazslError(f"{label} failed: {one_line(err)}") from None
        try:
            vectors = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise GazslError(f"{label} returned {type(result).__name__}, not an array of numbers ({one_line(err, 120)})") from None
        if vectors.ndim != 2 or vectors.shape[0] != len(documents) or vectors.shape[1] == 0:
            raise GazslError(f"{label} returned shape {vectors.shape} for {len(documents)} documents; expected "
                             f"({len(documents)}, dimensions)")
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            raise GazslError(f"{label} returned NaN or infinity for {int((~finite).sum())} of {len(documents)} documents "
                             f"(the first: document {int(np.flatnonzero(~finite)[0]) + 1})")
        return vectors.astype(np.float32)

    def recipe(self) -> dict:
        record = self._recorded if self._recorded is not None else self.plugin.record()
        return {"encoder": ENCODER, **{k: record.get(k) for k in ("plugin", "package", "package_version")}}

    @classmethod
    def from_recipe(cls, recipe: dict) -> "PluginEncoder":
        if not recipe.get("plugin"):
            raise GazslError("its plugin encoder's recipe names no plugin")
        return cls(recipe["plugin"], recipe)


def encode_plugin(corpus: Corpus, class_ids, spec: str) -> TextVectors:
    """Class vectors of ``corpus`` by the encoder plugin ``spec``, row i for ``class_ids[i]``."""
    encoder = PluginEncoder(spec)
    vectors = encoder.encode(corpus.documents(class_ids))
    settings = {**encoder.recipe(), "corpus": str(corpus.source), "corpus_sha256": corpus.checksum()}
    return TextVectors(vectors=vectors, settings=settings)
