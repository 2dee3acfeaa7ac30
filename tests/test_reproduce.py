import json
import re

import numpy as np
import pytest

from conftest import make_toy_store
from gazsl.io import GazslError
from gazsl.protocols.tables import environments
from gazsl.reproduce import main
from gazsl.generator.precision import cpu_name


def test_reproduce_writes_table_and_plot_for_both_protocols(toy_store, tiny_config_file, tmp_path):
    configs = tmp_path / "configs"
    configs.mkdir()
    overrides = json.loads(tiny_config_file.read_text())
    overrides["iterations"] = 20
    (configs / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu", "store": str(toy_store),
                                                       "overrides": overrides}))
    results = tmp_path / "results"
    main(["--splits", "toy_easy", "--seeds", "2", "--configs", str(configs), "--results", str(results),
          "--runs", str(tmp_path / "runs")])
    table = (results / "toy_easy.md").read_text()
    assert "python -m gazsl.reproduce --splits toy_easy --seeds 2" in table
    rows = [line for line in table.splitlines() if line.startswith("| honest") or line.startswith("| paper")]
    assert len(rows) == 2 and all("±" in row and "| 2 |" in row for row in rows)
    assert all(row.startswith(f"| {p} | knn | pivot | tfidf |") for row, p in zip(rows, ("honest", "paper")))
    assert f"Made on: 4 runs on cpu ({cpu_name()}), torch " in table  # 2 seeds x 2 protocols, all on this machine's CPU
    assert (results / "toy_easy_gzsl.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for protocol in ("honest", "paper"):
        seeds = {json.loads((tmp_path / "runs" / "toy_easy" / protocol / f"seed{s}" / "metrics.json").read_text())["seed"]
                 for s in (0, 1)}
        assert seeds == {0, 1}


def test_reproduce_rejects_a_split_without_config(tmp_path):
    with pytest.raises(GazslError, match="no experiment config for split 'moon_easy'"):
        main(["--splits", "moon_easy", "--configs", str(tmp_path)])


def test_environments_counts_runs_per_device_and_torch_version():
    runs = [{"device": "cuda", "device_name": "NVIDIA H200", "versions": {"torch": "2.11.0+cu130"}}] * 2 + [
        {"device": "cpu", "device_name": None, "versions": {"torch": "2.13.0+cpu"}},  # a run of before CPU names
        {"device": "cpu", "device_name": "AMD EPYC 7B13", "versions": {"torch": "2.13.0+cpu"}}]
    assert environments(runs) == ("2 runs on cuda (NVIDIA H200), torch 2.11.0+cu130; "
                                  "1 run on cpu, torch 2.13.0+cpu; 1 run on cpu (AMD EPYC 7B13), torch 2.13.0+cpu")


def test_a_rebuilt_store_is_not_mistaken_for_the_old_one(tiny_config_file, tmp_path):
    from gazsl.generator.precision import cpu_name
    from gazsl.protocols.cells import run_cell
    from gazsl.store.feature_store import FeatureStore, TextVectors

    store = make_toy_store(tmp_path / "toy.h5")
    configs, runs = tmp_path / "configs", tmp_path / "runs"
    configs.mkdir()
    overrides = {**json.loads(tiny_config_file.read_text()), "iterations": 20}
    (configs / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu", "store": str(store),
                                                       "overrides": overrides}))
    first = run_cell("toy_easy", "honest", 0, runs, configs)
    out = runs / "toy_easy" / "honest" / "seed0"
    assert first["device"] == "cpu" and first["device_name"] == cpu_name()  # CPUs of other makes train otherwise

    # another encoder written into the store changes the file, not what the run reads: the run stands
    loaded = FeatureStore.open(store)
    loaded.texts["other"] = TextVectors(np.ones((loaded.n_classes, 3), np.float32), {"encoder": "test"})
    loaded.save(store)
    assert run_cell("toy_easy", "honest", 0, runs, configs) == first

    # a store rebuilt from other data is refused, naming the run folder, whether the run finished or is resumed
    make_toy_store(store, seed=1)
    with pytest.raises(GazslError, match=rf"{re.escape(str(out))}.*inputs_sha256: \w{{12}} -> \w{{12}}, .*rebuilt store\?"
                                         rf".*delete {re.escape(str(out))} to rerun it") as err:
        run_cell("toy_easy", "honest", 0, runs, configs)
    assert "\n" not in str(err.value)
    (out / "metrics.json").unlink()  # its checkpoints remain: the run would be resumed
    with pytest.raises(GazslError, match=r"config\.json: --resume with other settings or data .*inputs_sha256"):
        run_cell("toy_easy", "honest", 0, runs, configs)
