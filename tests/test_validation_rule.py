"""The before/after experiment of the hard splits' validation rule (experiments/validation_rule.py) on a toy store."""
import json

import numpy as np

from conftest import load_experiment
from gazsl.store.feature_store import FeatureStore
from gazsl.store.splits import make_split
from gazsl.leaderboard import main as leaderboard


def test_before_differs_from_after_in_the_validation_classes_alone(toy_store, tiny_config_file, tmp_path):
    store = FeatureStore.open(toy_store)
    seen, unseen = np.flatnonzero(store.super_ids != 2), np.flatnonzero(store.super_ids == 2)  # a family unseen
    store.splits["toy_hard"] = make_split("toy_hard", seen, unseen, store.labels, seed=0, val_rule="family",
                                          families=store.super_ids)
    store.save(toy_store)
    configs, results = tmp_path / "configs", tmp_path / "results"
    configs.mkdir()
    overrides = {**json.loads(tiny_config_file.read_text()), "iterations": 30}
    (configs / "toy_hard.json").write_text(json.dumps({"split": "toy_hard", "preset": "cpu", "store": str(toy_store),
                                                       "overrides": overrides}))
    common = ["--splits", "toy_hard", "--seeds", "1", "--configs", str(configs), "--results", str(results)]
    leaderboard([*common, "--methods", "eszsl", "prototype", "gazsl", "gazsl_pivot", "--runs", str(tmp_path / "runs")])
    work = tmp_path / "work"
    load_experiment("validation_rule").main([*common, "--work", str(work)])

    after = FeatureStore.open(toy_store).split("toy_hard")
    before = FeatureStore.open(work / "stores" / "toy.h5").split("toy_hard")
    assert after.val_rule == "family" and before.val_rule == "random"
    assert not np.array_equal(before.val, after.val)
    for key in ("seen", "unseen", "heldout_images"):
        assert np.array_equal(getattr(before, key), getattr(after, key)), key
    # "after" validation holds whole families that no other seen class belongs to; "before" need not
    assert not np.isin(store.super_ids[after.val], store.super_ids[np.setdiff1d(after.seen, after.val)]).any()
    text = (results / "validation_rule.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| toy_hard |")]
    assert [row.split(" | ")[1] for row in rows] == ["before: random seen classes", "after: whole families"]
    assert all(-1 <= float(row.split(" | ")[2]) <= 1 for row in rows)
    # the leaderboard quotes the "before" figures the experiment recorded
    leaderboard([*common, "--methods", "eszsl", "prototype", "gazsl", "gazsl_pivot", "--runs", str(tmp_path / "runs")])
    assert "With validation classes drawn at random from the seen classes instead of whole families, as before (" \
        "`python experiments/validation_rule.py --splits toy_hard" in (results / "leaderboard.md").read_text()
