"""experiments/validation_probe.py: validation-only figures of GAZSL settings, the honest selection run's own."""
import json

import pytest

from conftest import cli_error_line, load_experiment
from gazsl.protocols.cells import run_cell
from gazsl.protocols.protocol import CLASSIFIERS


@pytest.fixture(scope="module")
def probe():
    return load_experiment("validation_probe")


def test_probe_figures_are_the_selection_figures_of_an_honest_run_and_each_setting_gets_a_row(probe, toy_configs,
                                                                                              tmp_path):
    results, runs = tmp_path / "results", tmp_path / "runs"
    probe.main(["--split", "toy_easy", "--seeds", "1", "--set", "pivot_weight=3", "--configs", str(toy_configs),
                "--runs", str(runs), "--results", str(results)])
    honest = run_cell("toy_easy", "honest", 0, tmp_path / "honest", toy_configs)["by_classifier"]
    records = [json.loads(p.read_text()) for p in (runs / "toy_easy").glob("*.json")]
    kept = {r["setting"].get("pivot_weight"): r["figures"] for r in records}
    assert all(r["inputs_sha256"] and r["torch"] and r["threads"] == 1 for r in records)
    assert set(kept) == {None, 3}
    for c in CLASSIFIERS:  # the probe's selection run is the honest run's, which chose the same iteration
        assert kept[None][c]["val_top1_per_class"] == honest[c]["val_top1_per_class"]
        assert kept[None][c]["iteration"] == honest[c]["iterations"]
    assert kept[3] != kept[None]  # the setting was applied
    rows = [line for line in (results / "validation_probe_toy_easy.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| setting")]
    assert [row.split(" | ")[0] for row in rows] == ["| the experiment config", "| pivot_weight=3"]
    assert f"{kept[None]['pivot']['val_top1_per_class']:.1f} ± 0.0 |" in rows[0]
    assert "(+" in rows[1] or "(-" in rows[1]


def test_a_bad_setting_is_one_line_before_any_training(probe, toy_configs, tmp_path, capsys):
    args = ["--split", "toy_easy", "--configs", str(toy_configs), "--runs", str(tmp_path / "runs")]
    assert cli_error_line(capsys, probe.main, [*args, "--set", "pivot_weight"]) == (
        "error: --set: expected field=value[,field=value...], got 'pivot_weight'")
    assert cli_error_line(capsys, probe.main, [*args, "--set", "lr=fast"]) == (
        "error: --set lr=fast: field 'lr' must be float, got 'fast'")
    assert not (tmp_path / "runs").exists()
