"""Saved models: one file per trained GAZSL, checked on reading (``GAZSL.save`` and ``GAZSL.load``).

A model file (``DIR/model.gazsl`` of every finished run) is a torch archive
read with ``weights_only=True`` (tensors and plain values only: loading a file
never runs code). Schema version 1 holds:

    format, schema_version, gazsl_version   what the file is and which gazsl made it
    config, random_state                    the training configuration (gazsl.generator.config.Config fields)
    generator                               the generator's weights (state dict)
    normaliser                              kind, shift, scale: the feature scaling fitted on training images
    seen_text, class_names                  (S, T) text vectors and names of the classes it was trained on
    n_iter, n_features_in                   iterations trained; feature dimension D
    gzsl_calibration                        GZSL constant chosen on validation classes (None: no honest run)
    temperature, gzsl_temperature           temperatures of the softmax that turns scores into probabilities, among
                                            the candidates and under GZSL, fitted on validation classes
                                            (gazsl.scoring.evaluate.fit_temperature; None: no honest run; optional:
                                            files written before them read as None)
    metrics                                 the figures of the run that made it (None for a plain fit)
    regression                              W, intercept, feature_mean, feature_scale of the text-to-class-mean
                                            regression a "+regression" classifier fuses in (None otherwise; optional:
                                            files written before it read as None)
    text_encoder                            the text encoder's recipe (gazsl.documents.encoders.encoder_from_recipe), or
                                            {"unavailable": why}
    image_backbone                          the image backbone and its preprocessing (gazsl.vision.backbone), or
                                            {"unavailable": why}

A file of another schema version, a damaged file or a missing field is one
GazslError naming the file and what is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gazsl.io import atomic_path, data_error, one_line
from gazsl.version import __version__

FORMAT = "gazsl-model"
SCHEMA_VERSION = 1
FIELDS = {  # field -> the types it may hold
    "config": (dict,), "random_state": (int, type(None)), "generator": (dict,), "normaliser": (dict,),
    "seen_text": (np.ndarray,), "class_names": (list, type(None)), "n_iter": (int,), "n_features_in": (int,),
    "gzsl_calibration": (float, type(None)), "temperature": (float, type(None)),
    "gzsl_temperature": (float, type(None)), "metrics": (dict, type(None)),
    "text_encoder": (dict,), "image_backbone": (dict,), "regression": (dict, type(None)),
}
# field -> its value in a file written before the field existed
OPTIONAL = {"regression": None, "temperature": None, "gzsl_temperature": None}


def _to_torch(value):
    """Arrays to tensors and numpy scalars to Python ones: what ``weights_only`` loading accepts."""
    if isinstance(value, dict):
        return {str(k): _to_torch(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_torch(v) for v in value]
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str):  # e.g. torch.__version__, a str subclass that weights_only refuses
        return str(value)
    return value


def _from_torch(value):
    if isinstance(value, dict):
        return {k: _from_torch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_torch(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return value


def write(path, fields: dict) -> Path:
    """Write ``fields`` (every key of FIELDS) atomically to ``path``."""
    missing = sorted(FIELDS.keys() - fields.keys())
    if missing:  # a bug of the caller, not a problem of the user's input
        raise ValueError(f"model file fields missing: {missing}")
    path = Path(path)
    payload = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "gazsl_version": __version__,
               **{k: (v if k == "generator" else _to_torch(v)) for k, v in fields.items()}}
    with atomic_path(path, suffix=".gazsl") as tmp:
        torch.save(payload, tmp)
    return path


def read(path) -> dict:
    """The fields of the model file ``path``, checked; arrays as numpy, the generator's weights as tensors."""
    path = Path(path)
    if not path.is_file():
        raise data_error(path, "model file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a torn file, another kind of file, or a pickle that would run code
        raise data_error(path, f"not a readable gazsl model: truncated, corrupt or another kind of file ({one_line(err, 160)})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise data_error(path, "not a gazsl model file (no 'format: gazsl-model' field)")
    version = payload.get("schema_version")
    if version != SCHEMA_VERSION:
        raise data_error(path, f"a gazsl model of schema version {version}, made by gazsl {payload.get('gazsl_version', '?')}; "
                         f"this gazsl ({__version__}) reads schema version {SCHEMA_VERSION}: retrain it or use that gazsl",
                         "schema_version")
    fields = {**OPTIONAL, **{k: (v if k == "generator" else _from_torch(v)) for k, v in payload.items()}}
    for key, types in FIELDS.items():
        if key not in fields:
            raise data_error(path, "missing field: the file is incomplete", key)
        if not isinstance(fields[key], types):
            expected = " or ".join("None" if t is type(None) else t.__name__ for t in types)
            raise data_error(path, f"expected {expected}, got {type(fields[key]).__name__}", key)
    return fields
