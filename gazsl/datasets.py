"""Which feature store a split lives in, opened and checked (the aviary builds itself on first use)."""

from __future__ import annotations

from pathlib import Path

from gazsl.io import GazslError
from gazsl.store import FeatureStore, default_store_path


def dataset_of(split: str) -> str:
    if "_" not in split:
        raise GazslError(f"unknown split '{split}': split names look like <dataset>_<easy|hard>, e.g. aviary_easy, cub100_hard, cub_easy")
    return split.rsplit("_", 1)[0]


def open_store(split: str, store_path=None) -> FeatureStore:
    dataset = dataset_of(split)
    path = Path(store_path) if store_path else default_store_path(dataset)
    if dataset == "aviary" and not store_path:
        from gazsl.aviary import ensure_aviary

        ensure_aviary(path)  # builds it when missing or made by another version of the generator
    if not path.exists():
        how = {
            "cub100": "python -m gazsl.data build-cub100 --images ../shared/data/cub100",
            "cub": "python -m gazsl.data download --dataset cub  (or import-release --dataset cub --from DIR)",
            "nab": "python -m gazsl.data download --dataset nab  (or import-release --dataset nab --from DIR)",
        }.get(dataset)
        if how is None and store_path:
            raise GazslError(f"{path}: feature store not found (--store)")
        if how is None:
            raise GazslError(f"unknown split '{split}': no feature store {path} (known datasets: aviary, cub100, cub, nab)")
        raise GazslError(f"{path}: feature store for split '{split}' not found; build it with: {how}")
    store = FeatureStore.open(path)
    store.split(split)  # unknown split -> clear error
    return store
