"""The benchmark on a store a user builds: 20 cub100 classes as a folder tree (real photographs and articles) ->
gazsl data build --dataset folder -> a design naming that store by path -> gazsl benchmark run, which prints its
verdict; its intervals use the folds' own share of unseen to seen classes (5 / 15 here, not cub100's 20 / 80).

The photographs' features are the shared file's (../shared/data/cub100/features_efficientnet_lite0.npz, the same
backbone and recipe the build runs), put where the build keeps its extraction (resumable, reused when it holds the
same images and backbone), so the build skips the backbone: everything else is the user's path."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from gazsl.protocols.paired import corrected_interval

N_CLASSES, PER_CLASS, FOLDS = 20, 12, 4


@pytest.mark.shared_data
def test_the_benchmark_runs_on_a_folder_store_of_20_real_classes_and_prints_its_verdict(shared_data, tmp_path):
    images, articles = shared_data / "cub100" / "images", shared_data / "cub" / "wiki_articles"
    npz = shared_data / "cub100" / "features_efficientnet_lite0.npz"
    if not (images.is_dir() and articles.is_dir() and npz.exists()):
        pytest.skip("../shared/data/cub100 photographs, features or the CUB articles not found")
    from gazsl.datasets.build import feature_cache
    from gazsl.datasets.folder import read_class_folders

    classes = sorted(p.name for p in images.iterdir() if p.is_dir())[:N_CLASSES]
    for name in classes:
        (tmp_path / "photos" / name).mkdir(parents=True)
        for photo in sorted((images / name).iterdir())[:PER_CLASS]:
            shutil.copy(photo, tmp_path / "photos" / name / photo.name)
        (tmp_path / "articles").mkdir(exist_ok=True)
        shutil.copy(next(articles.glob(f"*.{name}.txt")), tmp_path / "articles" / f"{name}.txt")
    store = tmp_path / "features" / "birds20.h5"
    store.parent.mkdir()
    tree = read_class_folders(tmp_path / "photos", tmp_path / "articles")
    with np.load(npz) as shared:
        row = {str(p): i for i, p in enumerate(shared["paths"])}
        features = shared["features"][[row[p] for p in tree.paths]].astype(np.float32)
    np.savez(feature_cache(store, "efficientnet-lite0", "none"), features=features, paths=np.array(tree.paths),
             backbone=np.array("efficientnet-lite0"), boxes=np.zeros((0, 4), np.float32))

    def gazsl(*args) -> str:
        done = subprocess.run([sys.executable, "-m", "gazsl", *map(str, args)], capture_output=True, text=True,
                              cwd=tmp_path, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    gazsl("data", "build", "--dataset", "folder", "--images", tmp_path / "photos", "--articles",
          tmp_path / "articles", "--name", "birds20", "--out", store)
    design = {
        "note": "20 cub100 classes of a user's own folder store", "claim": "Prototype regression beats ESZSL if the "
        "interval lies above 0.", "recommended": {"method": "prototype"}, "claim_figures": ["zsl_top1", "gzsl_h"],
        "protocols": {"birds20_scs": {"store": str(store), "text": "tfidf", "rule": "random", "folds": FOLDS,
                                      "repeats": 1, "seed": 0}},
        "validation_folds": 2, "seeds": 1, "baselines": ["eszsl", "prototype"], "trainings": {}, "classifiers": [],
        "interval": "corrected resampled t"}
    (tmp_path / "design.json").write_text(json.dumps(design))
    printed = gazsl("benchmark", "--design", "design.json", "--runs", "runs", "run", "--results", "results")

    assert printed.startswith("**birds20_scs: ")  # the verdict first
    verdict = printed.split("###")[0]
    assert "recommended prototype minus the best baseline (eszsl)" in verdict or "is the best baseline" in verdict
    assert "points of H" in verdict
    s = json.loads((tmp_path / "results" / "benchmark.json").read_text())["protocols"]["birds20_scs"]
    assert s["folds"] == FOLDS and s["test_to_train"] == pytest.approx(5 / 15)  # the folds' own share
    other = "eszsl" if s["best_baseline"] == "prototype" else "prototype"
    differences = np.subtract(s["methods"][other]["test_per_fold"], s["methods"][s["best_baseline"]]["test_per_fold"])
    assert s["versus_best_baseline"][other]["low"] == pytest.approx(corrected_interval(differences, 5 / 15)[1])
