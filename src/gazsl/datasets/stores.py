"""Which feature store a split lives in, opened and checked (the aviary builds itself on first use)."""

from __future__ import annotations

from pathlib import Path

from gazsl.io import GazslError
from gazsl.store.feature_store import FeatureStore, default_store_path


def dataset_of(split: str) -> str:
    if "_" not in split:
        raise GazslError(f"unknown split '{split}': split names look like <dataset>_<easy|hard>, e.g. aviary_easy, cub100_hard, cub_easy")
    base = split.removesuffix("_strict")  # cub100_easy_strict lives in cub100.h5 beside cub100_easy
    return base.rsplit("_", 1)[0]


def open_store(split: str, store_path=None) -> FeatureStore:
    dataset = dataset_of(split)
    path = Path(store_path) if store_path else default_store_path(dataset)
    if dataset == "aviary" and not store_path:
        from gazsl.datasets.aviary_world import ensure_aviary

        ensure_aviary(path)  # builds it when missing or made by another version of the generator
    if not path.exists():
        build = {"cub100": "build-cub100 --images CUB100_DIR --articles CUB_ARTICLES_DIR",
                 "cub": "build --dataset cub --root CUB_200_2011 --articles CUB_ARTICLES_DIR",
                 "nab": "build --dataset nab --root nabirds --articles NAB_ARTICLES_DIR"}.get(dataset)
        if build is None and store_path:
            raise GazslError(f"{path}: feature store not found (--store)")
        if build is None:
            raise GazslError(f"unknown split '{split}': no feature store {path} (known datasets: aviary, cub100, cub, nab)")
        out = f" --out {path}" if path != default_store_path(dataset) else ""
        how = f"from the dataset's images: `python -m gazsl.data {build}{out}`"
        if dataset in ("cub", "nab"):
            how += (f"; or from the GAZSL release: `python -m gazsl.data download --dataset {dataset}{out}`, or "
                    f"`python -m gazsl.data import-release --dataset {dataset} --from RELEASE_DIR{out}` if you have it")
        raise GazslError(f"{path}: feature store for split '{split}' not found; build it {how} (see docs/datasets.md)")
    store = FeatureStore.open(path)
    store.split(split)  # unknown split -> clear error
    return store
