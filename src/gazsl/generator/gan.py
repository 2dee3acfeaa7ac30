"""GAZSL as an estimator: a feature-generating GAN fitted on seen classes scores any class from its text.

    model = GAZSL(preset("cpu"), random_state=0).fit(text_seen, features, labels)  # (S, T), (N, D), (N,) in [0, S)
    scores = model.scores(text, features_test)    # (M, C): images against the generated features of C classes
    pred = model.predict(text, features_test)     # (M,) indices into text's rows
    fake, labels = model.generate(text, n=100)    # n synthetic features per class, in the features' own scale
    model.save("birds.gazsl"); model = GAZSL.load("birds.gazsl")

The interface is the baselines' (``gazsl.scoring.estimator``), so a protocol
(``gazsl.protocols.protocol``) evaluates GAZSL and the baselines alike. With a text
encoder (``gazsl.documents.encoders.recorded_encoder``) and an image backbone
(``gazsl.vision.backbone.recorded_backbone``), ``encode`` turns articles into text
vectors and ``embed`` photographs into features: a trained model names birds
it never saw from their articles (``python -m gazsl.predict``).

Answers are deterministic: the features generated to classify are drawn with a
seed fixed by the model's seed and iteration count (``evaluation_seed``), so a
model saved, loaded and asked again answers the same, and a run's evaluation at
an iteration is what its model answers then.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from pathlib import Path

import numpy as np
import torch

from gazsl import progress
from gazsl.generator import config as config_module
from gazsl.scoring import evaluate as ev
from gazsl.generator import model_file
from gazsl.generator.config import Config
from gazsl.scoring.baselines import PrototypeRegression
from gazsl.scoring.feature_scaling import FeatureScaling
from gazsl.scoring.estimator import ZeroShotEstimator
from gazsl.io import GazslError, data_error, one_line
from gazsl.generator.model import Generator, generate, owned_tensor
from gazsl.generator.precision import resolve as resolve_precision
from gazsl.documents.encoders import encoder_from_recipe
from gazsl.generator.trainer import GazslTrainer, Phase, resolve_device, run_phase
from gazsl.vision.backbone import backbone_from_recipe


def evaluation_seed(seed: int, it: int) -> int:
    """The generator noise of the scores at iteration ``it``: fixed per run and iteration, so a resumed run scores alike."""
    return seed * 1_000_003 + it


def generated_classifier(classifier: str) -> str:
    """The classifier on generated features within ``classifier`` (a "+regression" one fuses it with a regression)."""
    return classifier.removesuffix("+regression")


def gzsl_classifier(classifier: str) -> str:
    """The classifier whose scores the GZSL figures calibrate: kNN votes are too coarse, so kNN uses the pivots (as the paper)."""
    return "pivot" if classifier == "knn" else classifier


def classifiers_note(classifier: str) -> str:
    """Why a run's ``classifier`` and ``gzsl_classifier`` differ (or that they do not), for a reader of metrics.json."""
    gzsl = gzsl_classifier(classifier)
    if gzsl == classifier:
        return f"every figure comes from the {classifier} classifier's scores"
    return (f"top-1 figures (zsl_top1*, val_top1*) come from the {classifier} classifier; the GZSL figures (ausuc, "
            f"gzsl_seen, gzsl_unseen, gzsl_h, calibration) from {gzsl} scores, as the paper does: {classifier} votes "
            "are too coarse to calibrate seen against unseen classes")


class Unavailable:
    """Stands for a text encoder or image backbone a model cannot rebuild; says why when it is used."""

    def __init__(self, reason: str):
        self.reason = reason

    def encode(self, documents, names=None):
        raise GazslError(self.reason)

    def embed(self, images):
        raise GazslError(self.reason)

    def recipe(self) -> dict:
        return {"unavailable": self.reason}

    def __repr__(self) -> str:
        return f"Unavailable({self.reason!r})"


class GAZSL(ZeroShotEstimator):
    """Zhu et al. (CVPR 2018): a WGAN-GP generator of visual features conditioned on class text.

    config: the model and its training (``gazsl.generator.config``; default ``Config()``, the paper's sizes).
    random_state: the seed of the weights, the batch order and the noise. None (the default) means
    ``config.seed``, so that a config alone fixes a run, as ``gazsl.train``'s runs are fixed; an integer
    overrides it (``config_.seed`` records the seed used either way).
    text_encoder, image_backbone: how articles and photographs become the vectors it reads
    (optional; saved with the model).
    verbose: 0 (the default) trains in silence; 1 or more reports ``fit``'s progress through ``logging`` (logger
    ``gazsl``, INFO: a line every 10 % of the iterations or 30 s, ``gazsl.progress``), shown on stderr where
    logging is not configured.

    Fitted attributes: ``config_`` (the configuration used, seed included, bf16 decided: ``precision_`` says why),
    ``generator_``, ``normaliser_`` (feature scaling fitted on the training
    images), ``seen_text_`` (S, T) and ``class_names_`` of the training classes,
    ``n_iter_``, ``n_text_dims_``, ``n_features_in_``; ``trainer_`` (critic,
    optimisers, random streams) while it can still train; set by an honest run
    of ``gazsl.train``: ``gzsl_calibration_``, ``temperature_`` and ``gzsl_temperature_`` (chosen and fitted on
    validation classes: ``gazsl.protocols.protocol.validation_figures``) and ``metrics_``.
    """

    dtype = np.float32

    def __init__(self, config: Config | None = None, random_state: int | None = None, text_encoder=None,
                 image_backbone=None, verbose: int = 0):
        self.config = config
        self.random_state = random_state
        self.text_encoder = text_encoder
        self.image_backbone = image_backbone
        self.verbose = verbose

    def _check_params(self) -> None:
        if self.config is not None and not isinstance(self.config, Config):
            raise GazslError(f"GAZSL.fit: config must be a gazsl.Config, got {type(self.config).__name__}")
        if self.random_state is not None and (isinstance(self.random_state, bool)
                                              or not isinstance(self.random_state, (int, np.integer))):
            raise GazslError(f"GAZSL.fit: random_state must be an integer seed or None, got {self.random_state!r}")
        if not isinstance(self.verbose, (int, np.integer)) or self.verbose < 0:
            raise GazslError(f"GAZSL.fit: verbose must be an integer >= 0, got {self.verbose!r}")

    # ---------------------------------------------------------------- training
    def initialise(self, text_seen, features, labels, class_names=None) -> "GAZSL":
        """Check the inputs and set up an untrained GAN (iteration 0); ``fit`` is this and ``config.iterations`` steps.

        A protocol (``gazsl.train``) calls it and drives the training itself through ``gazsl.generator.trainer.run_phase``.
        """
        text, X, y = self._validate_fit(text_seen, features, labels)
        if class_names is not None and len(class_names) != len(text):
            raise GazslError(f"GAZSL.fit: {len(class_names)} class names for {len(text)} rows of text_seen")
        config = self.config if self.config is not None else Config()
        self.config_ = config if self.random_state is None else config.replace(seed=int(self.random_state))
        self.device_ = resolve_device(self.config_.device)
        # bf16 'auto' is decided once per model, at its own shapes (gazsl.generator.precision); the config keeps the decision
        self.precision_ = resolve_precision(self.config_.bf16, self.device_, self.config_.batch_size, X.shape[1],
                                            self.config_.critic_hidden)
        self.config_ = self.config_.replace(bf16=self.precision_.setting)
        self.normaliser_ = FeatureScaling.fit(self.config_.feature_norm, X)
        self.trainer_ = GazslTrainer(text, self.normaliser_(X), y, self.config_, self.device_, self.config_.seed)
        self.generator_ = self.trainer_.netG
        self.seen_text_ = text
        self.class_names_ = None if class_names is None else [str(n) for n in class_names]
        self.n_text_dims_, self.n_features_in_ = text.shape[1], X.shape[1]
        self.n_iter_ = 0
        self.gzsl_calibration_, self.metrics_ = None, None
        self.temperature_, self.gzsl_temperature_ = None, None
        # the "+regression" classifiers' other half; closed form and cheap, so fitted whatever the classifier, and
        # kept as a saved model keeps it (float32), so that a model answers alike before and after saving
        fitted = PrototypeRegression(alpha=self.config_.regression_alpha, feature_norm="zscore").fit(text, X, y)
        self.regression_ = _regression(_regression_state(fitted), self.config_, text.shape[1], X.shape[1], "GAZSL.fit")
        return self

    def fit(self, text_seen, features, labels, class_names=None) -> "GAZSL":
        """Train on the images ``features`` (N, D) of the classes whose text is ``text_seen`` (S, T)."""
        self.initialise(text_seen, features, labels, class_names)
        report = None if not self.verbose else (
            lambda done, total: progress.Progress("GAZSL.fit", total, done, sink=progress.LOGGER))
        with progress.logging_shown() if self.verbose else contextlib.nullcontext():
            run_phase(Phase("fit", self.config_.iterations), self, progress=report)
        return self

    def _trainer(self) -> GazslTrainer:
        if getattr(self, "trainer_", None) is None:
            raise GazslError("GAZSL: this model cannot train (not initialised, or loaded from a file, which keeps no critic)")
        return self.trainer_

    def step(self, log: bool = True) -> dict[str, torch.Tensor]:
        """One training iteration (``gazsl.generator.trainer.GazslTrainer.step``)."""
        logs = self._trainer().step(log)
        self.n_iter_ += 1
        return logs

    def state_dict(self) -> dict:
        return {**self._trainer().state_dict(), "n_iter": self.n_iter_}

    def load_state_dict(self, state: dict) -> None:
        self._trainer().load_state_dict(state)
        self.n_iter_ = int(state["n_iter"])

    # ---------------------------------------------------------------- scoring
    @torch.no_grad()
    def _generated(self, text: np.ndarray, per_class: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Normalised synthetic features (C * per_class, D) of ``text``'s classes, their labels, and the seed used."""
        seed = evaluation_seed(self.config_.seed, self.n_iter_)
        self.generator_.eval()
        fake, labels = generate(self.generator_, owned_tensor(text, self.device_), per_class,
                                   torch.Generator().manual_seed(seed))
        self.generator_.train()
        return fake, labels, seed

    @torch.no_grad()
    def _generated_scores(self, text: np.ndarray, X: np.ndarray, classifier: str) -> np.ndarray:
        fake, labels, seed = self._generated(text, self.config_.samples_per_class)
        test = owned_tensor(self.normaliser_(X), self.device_)
        return ev.class_scores(classifier, test, fake, labels, len(text), self.config_.knn_k, seed).cpu().numpy()

    def _scores(self, text: np.ndarray, X: np.ndarray, classifier: str) -> np.ndarray:
        generated = generated_classifier(classifier)
        scores = self._shared(generated, text, X, lambda: self._generated_scores(text, X, generated))
        if classifier == generated:
            return scores
        if getattr(self, "regression_", None) is None:
            raise GazslError(f"GAZSL: classifier {classifier!r} needs the text-to-class-mean regression, which this "
                             "model does not hold (saved with another classifier)")
        regression = self._shared("regression", text, X, lambda: self.regression_.scores(text, X))
        return ev.fused(scores, regression, self.config_.fusion_weight)

    @contextlib.contextmanager
    def sharing_scores(self):
        """Within the block, this model and its ``with_classifier`` views compute each part of their scores once per
        input: a protocol's evaluation scores five classifiers, which share parts (kNN's GZSL figures are pivot's;
        a fused classifier is its own half plus the regression). The scores are deterministic for given weights and
        iteration (``evaluation_seed``), so what is shared is what would be recomputed; nothing may train meanwhile."""
        self._scores_memo = {}
        try:
            yield self
        finally:
            self._scores_memo = None

    def _shared(self, part: str, text: np.ndarray, X: np.ndarray, compute) -> np.ndarray:
        memo = getattr(self, "_scores_memo", None)
        if memo is None:
            return compute()
        key = (part, _fingerprint(text), _fingerprint(X))
        if key not in memo:
            memo[key] = compute()
        return memo[key].copy()  # a caller may change its scores in place (generalised_scores does)

    def with_classifier(self, classifier: str) -> "GAZSL":
        """This fitted model scoring by ``classifier`` (the same generator, not a copy): one training, several rows."""
        self._check_fitted("GAZSL.with_classifier")
        view = copy.copy(self)
        view.config_ = self.config_.replace(classifier=classifier)  # checked: an unknown name fails here
        return view

    def scores(self, text, features) -> np.ndarray:
        """(M, C): each image against the generated features of each class, by ``config.classifier``
        (kNN: share of the k nearest generated features; pivot: cosine to their mean; softmax: log-probabilities)."""
        text, X = self._validate_scores(text, features)
        return self._scores(text, X, self.config_.classifier)

    def gzsl_scores(self, text, features) -> np.ndarray:
        """Scores to calibrate over seen and unseen classes, by ``gzsl_classifier``."""
        text, X = self._validate_scores(text, features, "GAZSL.gzsl_scores")
        return self._scores(text, X, gzsl_classifier(self.config_.classifier))

    def generalised_scores(self, text, features) -> np.ndarray:
        """(M, S + C) GZSL scores: the training classes (``seen_text_``), then ``text``'s, with
        ``gzsl_calibration_`` (chosen on validation classes) added to the latter."""
        if getattr(self, "gzsl_calibration_", None) is None:
            raise GazslError("GAZSL: no GZSL calibration chosen on validation classes (a model of gazsl.train's honest "
                             "protocol has one)")
        text, _ = self._validate_scores(text, features, "GAZSL.generalised_scores")
        scores = self.gzsl_scores(np.concatenate([self.seen_text_, text]), features)
        scores[:, len(self.seen_text_):] += self.gzsl_calibration_
        return scores

    def generate(self, class_texts, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (default ``config.samples_per_class``) synthetic features per row of ``class_texts`` (C, T), in the
        scale of the training features: (C * n, D) features and (C * n,) labels in [0, C). The ones ``scores`` uses."""
        text = self._validate_text(class_texts, "GAZSL.generate")
        n = self.config_.samples_per_class if n is None else n
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise GazslError(f"GAZSL.generate: n must be a positive integer, got {n!r}")
        fake, labels, _ = self._generated(text, int(n))
        return self.normaliser_.inverse(fake.cpu().numpy()), labels.cpu().numpy()

    # ---------------------------------------------------------------- raw inputs
    def encode(self, documents, names=None) -> np.ndarray:
        """(C, T) text vectors of C articles (``names``: the classes' names, which noise handling leaves out)."""
        if self.text_encoder is None:
            raise GazslError("GAZSL.encode: this model has no text encoder (GAZSL(text_encoder=...), e.g. "
                             "gazsl.documents.encoders.recorded_encoder(store.text('tfidf')))")
        documents = list(documents)
        if not documents or not all(isinstance(d, str) for d in documents):
            raise GazslError("GAZSL.encode: documents must be a non-empty list of strings")
        return self.text_encoder.encode(documents, names)

    def embed(self, images) -> np.ndarray:
        """(M, D) features of M image files, by the backbone and preprocessing the training features were made with."""
        if self.image_backbone is None:
            raise GazslError("GAZSL.embed: this model has no image backbone (GAZSL(image_backbone=...))")
        return self.image_backbone.embed(list(images))

    # ---------------------------------------------------------------- files
    def save(self, path) -> Path:
        """Everything needed to score: weights, scaling, training classes, encoders' recipes, config and metrics."""
        self._check_fitted("GAZSL.save")
        normaliser = self.normaliser_
        return model_file.write(path, {
            "config": self.config_.to_dict(), "random_state": None if self.random_state is None else int(self.random_state),
            "generator": {k: v.detach().cpu() for k, v in self.generator_.state_dict().items()},
            "normaliser": {"kind": normaliser.kind, "shift": np.asarray(normaliser.shift),
                           "scale": np.asarray(normaliser.scale)},
            "seen_text": self.seen_text_, "class_names": self.class_names_, "n_iter": self.n_iter_,
            "n_features_in": self.n_features_in_,
            "gzsl_calibration": _optional_float(self.gzsl_calibration_),
            "temperature": _optional_float(self.temperature_),
            "gzsl_temperature": _optional_float(self.gzsl_temperature_),
            "metrics": self.metrics_,
            # only a "+regression" classifier scores with it; (T, D) weights are too large to keep for nothing
            "regression": _regression_state(self.regression_) if self._fuses() else None,
            "text_encoder": _recipe(self.text_encoder, "no text encoder was given to this model"),
            "image_backbone": _recipe(self.image_backbone, "no image backbone was given to this model"),
        })

    @classmethod
    def load(cls, path, device: str = "cpu") -> "GAZSL":
        """A model saved by ``save``, on ``device``; every part is checked and a problem named in one line."""
        fields = model_file.read(path)
        config = config_module.from_mapping(Config(), fields["config"], f"{path} [config]")
        model = cls(config, fields["random_state"], _rebuilt(encoder_from_recipe, fields["text_encoder"], path),
                    _rebuilt(backbone_from_recipe, fields["image_backbone"], path))
        seen_text = fields["seen_text"]
        if seen_text.ndim != 2 or seen_text.dtype != np.float32 or not np.isfinite(seen_text).all():
            raise data_error(path, f"expected finite (S, T) float32 text vectors, got {seen_text.shape} {seen_text.dtype}",
                             "seen_text")
        model.config_, model.device_ = config, resolve_device(device)
        model.n_text_dims_, model.n_features_in_ = seen_text.shape[1], fields["n_features_in"]
        model.generator_ = Generator(model.n_text_dims_, model.n_features_in_, config.model)
        try:
            model.generator_.load_state_dict(fields["generator"])
        except (RuntimeError, TypeError, KeyError) as err:
            raise data_error(path, f"weights that do not fit its config ({one_line(err, 160)})", "generator") from None
        model.generator_.to(model.device_)
        model.normaliser_ = _normaliser(fields["normaliser"], model.n_features_in_, path)
        model.seen_text_, model.class_names_, model.n_iter_ = seen_text, fields["class_names"], fields["n_iter"]
        if model.class_names_ is not None and len(model.class_names_) != len(seen_text):
            raise data_error(path, f"{len(model.class_names_)} names for {len(seen_text)} classes", "class_names")
        model.gzsl_calibration_, model.metrics_ = fields["gzsl_calibration"], fields["metrics"]
        for field in ("temperature", "gzsl_temperature"):
            if fields[field] is not None and not fields[field] > 0:
                raise data_error(path, f"a softmax temperature must be positive, got {fields[field]}", field)
        model.temperature_, model.gzsl_temperature_ = fields["temperature"], fields["gzsl_temperature"]
        model.regression_ = _regression(fields["regression"], config, model.n_text_dims_, model.n_features_in_, path)
        if model.regression_ is None and model._fuses():
            raise data_error(path, f"classifier {config.classifier!r} without its regression", "regression")
        return model

    def _fuses(self) -> bool:
        return self.config_.classifier != generated_classifier(self.config_.classifier)


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _fingerprint(array: np.ndarray) -> tuple:
    array = np.ascontiguousarray(array)
    return array.shape, array.dtype.str, hashlib.blake2b(array.tobytes(), digest_size=16).digest()


def _recipe(part, missing: str) -> dict:
    return {"unavailable": missing} if part is None else part.recipe()


def _rebuilt(rebuild, recipe: dict, path):
    """The encoder or backbone of a recipe; one that cannot be rebuilt here stands in, saying why, when used."""
    if "unavailable" in recipe:
        return Unavailable(f"{path}: {recipe['unavailable']}")
    try:
        return rebuild(recipe)
    except GazslError as err:
        return Unavailable(f"{path}: {err}")


def _regression_state(regression: PrototypeRegression) -> dict:
    return {"W": regression.W_.astype(np.float32), "intercept": regression.intercept_.astype(np.float32),
            "feature_mean": regression.feature_scaling_.shift, "feature_scale": regression.feature_scaling_.scale}


def _regression(state: dict | None, config: Config, text_dims: int, dim: int, path) -> PrototypeRegression | None:
    if state is None:
        return None
    shapes = {"W": (text_dims, dim), "intercept": (dim,), "feature_mean": (dim,), "feature_scale": (dim,)}
    if any(np.shape(state.get(k)) != shape for k, shape in shapes.items()):
        raise data_error(path, f"a regression of shapes {({k: np.shape(state.get(k)) for k in shapes})}, expected "
                         f"{shapes}", "regression")
    regression = PrototypeRegression(alpha=config.regression_alpha, feature_norm="zscore")
    regression.W_, regression.intercept_ = state["W"], state["intercept"]
    regression.feature_scaling_ = FeatureScaling("zscore", state["feature_mean"], state["feature_scale"])
    regression.n_text_dims_, regression.n_features_in_ = text_dims, dim
    return regression


def _normaliser(state: dict, dim: int, path) -> FeatureScaling:
    kind = state.get("kind")
    if kind in ("mean_var", "none") and all(np.shape(state.get(k)) == () for k in ("shift", "scale")):
        return FeatureScaling(kind, float(state["shift"]), float(state["scale"]))  # as fitted: Python floats
    if kind in ("zscore", "minmax") and all(np.shape(state.get(k)) == (dim,) for k in ("shift", "scale")):
        return FeatureScaling(kind, state["shift"], state["scale"])
    raise data_error(path, f"a feature scaling of kind {kind!r} with shift {np.shape(state.get('shift'))}, "
                     f"expected one of {', '.join(config_module.KNOWN_FEATURE_NORMS)} ({dim} dimensions for zscore and "
                     "minmax, scalars for the others)", "normaliser")
