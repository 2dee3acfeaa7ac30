"""The bf16 vs float32 parity experiment (experiments/precision.py): its table, its verdict, and one tiny run."""
import json
from pathlib import Path

import pytest

from conftest import load_experiment
from gazsl.generator import precision as precision_module
from gazsl.io import GazslError


@pytest.fixture(scope="module")
def experiment():
    return load_experiment("precision")


def _runs(top1s, seconds=10.0, device="cpu"):
    return [{"seed": seed, "zsl_top1": t, "zsl_top1_per_class": t - 1, "ausuc": t / 200, "gzsl_h": t / 2,
             "seconds": seconds, "device": device} for seed, t in enumerate(top1s)]


def test_table_gives_paired_differences_spread_and_verdict_per_split(experiment):
    results = {
        "a_easy": {"fp32": _runs([40.0, 42.0, 44.0], 30), "bf16": _runs([40.5, 42.5, 44.5], 12)},  # +0.5 < spread 2
        "a_hard": {"fp32": _runs([10.0, 10.2, 10.4]), "bf16": _runs([8.0, 8.1, 8.2])},  # -2.1 > spread 0.2
    }
    lines = experiment.parity_table(results, {"a_easy": "on: auto: x", "a_hard": "off: auto: y"}).splitlines()
    assert lines[0].startswith("| split | seeds | top-1 % fp32 | top-1 % bf16 | Δ top-1 % (bf16 - fp32) |")
    easy, hard = lines[2], lines[3]
    assert easy.startswith("| a_easy | 3 | 42.00 ± 2.00 | 42.50 ± 2.00 | 0.50 ± 0.00 | 0.50 ± 0.00 | 0.25 ± 0.00 |")
    assert "| 2.00 | 30 → 12 | holds | on: auto: x |" in easy
    assert hard.startswith("| a_hard | 3 | 10.20 ± 0.20 | 8.10 ± 0.10 | -2.10 ± 0.10 |")
    assert "| 0.20 | 10 → 10 | **moves** | off: auto: y |" in hard


def test_a_split_that_moves_keeps_auto_off_on_that_device(experiment, monkeypatch):
    results = {"a_easy": {"fp32": _runs([40.0, 42.0]), "bf16": _runs([40.0, 42.0])},
               "a_hard": {"fp32": _runs([10.0, 10.2]), "bf16": _runs([8.0, 8.1])}}
    paragraph, entries = experiment.closing(results)
    why = "bf16 moved a_hard's mean top-1 by -2.05 points, more than the seeds' spread 0.14"
    assert paragraph.startswith(f"Verdict: {why}")
    assert "`auto` stays off on cpu: to be recorded" in paragraph
    assert entries == {"cpu": why + " (experiments/results/precision.md)"}
    monkeypatch.setattr(precision_module, "ACCURACY_VERDICTS", dict(entries))
    assert "`auto` stays off on cpu: recorded in" in experiment.closing(results)[0]

    results.pop("a_hard")
    paragraph, entries = experiment.closing(results)
    assert paragraph.startswith("Verdict: bf16 keeps every split's mean top-1 within the seeds' spread on cpu")
    assert entries == {}


def toy_configs(toy_store, tiny_config_file, tmp_path) -> Path:
    configs = tmp_path / "configs"
    configs.mkdir()
    overrides = {**json.loads(tiny_config_file.read_text()), "bf16": "auto"}  # the experiment forces off and on
    (configs / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu", "store": str(toy_store),
                                                       "overrides": overrides}))
    return configs


def test_the_command_trains_both_precisions_and_writes_the_table(experiment, toy_store, tiny_config_file, tmp_path,
                                                                 capsys):
    configs = toy_configs(toy_store, tiny_config_file, tmp_path)
    results, runs = tmp_path / "results", tmp_path / "runs"
    experiment.main(["--splits", "toy_easy", "--seeds", "2", "--iters", "20", "--configs", str(configs),
                     "--results", str(results), "--runs", str(runs)])
    table = (results / "precision.md").read_text()
    assert "python experiments/precision.py --splits toy_easy --seeds 2 --iters 20" in table
    assert "with --iters 20 (a check of the command, not a measurement)" in table
    assert f"Made on: 4 runs on cpu ({precision_module.cpu_name()}), torch " in table
    rows = [line for line in table.splitlines() if line.startswith("| toy_easy | 2 |")]
    assert len(rows) == 1 and ("holds" in rows[0] or "**moves**" in rows[0])
    assert "Verdict: " in table
    for name, bf16 in (("fp32", False), ("bf16", True)):
        for seed in (0, 1):
            metrics = json.loads((runs / name / "toy_easy" / "honest" / f"seed{seed}" / "metrics.json").read_text())
            assert metrics["bf16"] is bf16 and metrics["config"]["bf16"] == ("on" if bf16 else "off")
            assert metrics["config"]["iterations"] == 20 and metrics["seed"] == seed
    assert "| toy_easy | 2 |" in capsys.readouterr().out


def test_one_seed_gives_no_spread_and_is_refused(experiment, toy_store, tiny_config_file, tmp_path):
    configs = toy_configs(toy_store, tiny_config_file, tmp_path)
    with pytest.raises(GazslError, match="--seeds must be at least 2"):
        experiment.main(["--splits", "toy_easy", "--seeds", "1", "--configs", str(configs), "--runs", str(tmp_path)])
    assert not list(tmp_path.glob("fp32"))  # refused before any training
