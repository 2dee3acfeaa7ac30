import json
import re
import shutil
from pathlib import Path

import pytest

from gazsl.io import GazslError
from gazsl.leaderboard import main
from gazsl.protocols.leaderboard import METHODS
from gazsl.generator.precision import cpu_name


def test_leaderboard_table_and_honest_baseline_figures(toy_configs, tmp_path):
    methods = ["eszsl", "prototype", "gazsl", "gazsl_pivot_regression", "gazsl_cycle_softmax", "gazsl_chosen"]
    results, runs = tmp_path / "results", tmp_path / "runs"
    main(["--splits", "toy_easy", "--seeds", "1", "--methods", *methods, "--configs", str(toy_configs),
          "--results", str(results), "--runs", str(runs)])
    text = (results / "leaderboard.md").read_text()
    assert "python -m gazsl.leaderboard --splits toy_easy --seeds 1 --methods" in text
    assert f"GAZSL cells made on: 2 runs on cpu ({cpu_name()}), torch " in text and "Baselines: numpy on the CPU." in text
    verdict = text.split("\n\n")[1].splitlines()  # the file opens with it; no benchmark here, so two lines
    assert verdict[0].startswith("**Verdict.** Chosen on validation classes") and verdict[1].startswith("GAZSL's row chosen")
    assert (results / "toy_easy_top1.png").read_bytes().startswith(b"\x89PNG")
    cells = {c["method"]: c for c in json.loads((results / "leaderboard.json").read_text())["cells"]}
    tables = text.split("### ")[1:]
    assert [t.splitlines()[0].split(" %")[0] for t in tables] == ["ZSL top-1", "GZSL AUSUC", "GZSL H",
                                                                   "Validation top-1"]
    for table in tables:
        rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| method")]
        assert [row.split(" | ")[0][2:] for row in rows] == [METHODS[m].label for m in methods]
        assert all(re.fullmatch(r"\| .+ \| (\*\*)?\d+\.\d ± 0\.0(\*\*)?( †)? \|", row) for row in rows), rows
        # bold: the honest rule's row (best validation of all rows); †: the best of this figure on the test
        figure = {"ZSL top-1": "zsl_top1", "GZSL AUSUC": "ausuc", "GZSL H": "gzsl_h",
                  "Validation top-1": "val_top1_per_class"}[table.split(" %")[0]]
        assert [m for m, row in zip(methods, rows) if "**" in row] == [max(methods, key=lambda m: cells[m]["val_top1_per_class"])]
        assert [m for m, row in zip(methods, rows) if row.endswith("† |")] == [
            m for m in methods if cells[m][figure] == max(cells[n][figure] for n in methods)]
        if table.startswith("GZSL"):  # each GZSL table names the classifier its figures calibrate
            assert [row.split(" | ")[1] for row in rows][:5] == ["eszsl", "prototype", "pivot", "pivot+regression",
                                                                 "softmax"]

    assert set(cells) == set(methods)
    for cell in cells.values():  # what a reader of the json needs of every cell
        assert {"split", "method", "seed", "protocol", "zsl_top1", "ausuc", "gzsl_h", "gzsl_classifier"} <= set(cell)
    # one training, several rows: the kNN and fused rows are two classifiers of one run's generators
    shared = json.loads((runs / "toy_easy" / "honest" / "seed0" / "metrics.json").read_text())["by_classifier"]
    for method, classifier in (("gazsl", "knn"), ("gazsl_pivot_regression", "pivot+regression")):
        assert {k: cells[method][k] for k in shared[classifier]} == shared[classifier]
    gazsl_rows = [m for m in methods if METHODS[m].training]
    best = max(gazsl_rows, key=lambda m: cells[m]["val_top1_per_class"])
    assert cells["gazsl_chosen"]["chosen_method"] == best and cells["gazsl_chosen"]["zsl_top1"] == cells[best]["zsl_top1"]
    assert cells["gazsl"]["classifier"] == "knn" and cells["gazsl"]["gzsl_classifier"] == "pivot"
    # the toy world is linear in the text, so the closed-form baselines must do far better than chance (1/6)
    for name in ("eszsl", "prototype"):
        m = cells[name]
        assert 50 < m["zsl_top1"] <= 100 and 0.3 < m["ausuc"] <= 1
        assert 0 <= m["gzsl_seen"] <= 100 and 0 <= m["gzsl_unseen"] <= 100
        assert min(m["gzsl_seen"], m["gzsl_unseen"]) <= m["gzsl_h"] <= max(m["gzsl_seen"], m["gzsl_unseen"])
        assert m["gzsl_h"] > 20  # a calibration chosen on validation classes balances seen and unseen
    # GAZSL cells are real training runs with the method's settings, where the reproduce table keeps them
    assert cells["gazsl"]["config"]["creativity_weight"] == 0.0
    assert (runs / "toy_easy" / "honest" / "seed0" / "metrics.json").exists()
    variant = json.loads((runs / "methods" / "gazsl_cycle" / "toy_easy" / "honest" / "seed0" / "metrics.json").read_text())
    assert variant["config"]["cycle_weight"] > 0 and variant["config"]["creativity_weight"] == 0

    # gazsl.reproduce's file of the split opens with the leaderboard's verdict on it
    from gazsl.reproduce import main as reproduce

    reproduce(["--splits", "toy_easy", "--seeds", "1", "--configs", str(toy_configs), "--results", str(results),
               "--runs", str(runs)])
    own = verdict[0].replace("over every row", "over every row of `leaderboard.md`")
    assert (results / "toy_easy.md").read_text().split("\n\n")[1] == f"{own}\n{verdict[1]}"

    # a finished run is reused, but never in place of a run with other settings
    config_file = toy_configs / "toy_easy.json"
    cell = json.loads(config_file.read_text())
    cell["overrides"]["lr"] = 1e-3
    config_file.write_text(json.dumps(cell))
    with pytest.raises(GazslError, match=r"a finished run of other settings or data \(lr: 0.003 -> 0.001\)"):
        main(["--splits", "toy_easy", "--seeds", "1", "--methods", "gazsl", "--configs", str(toy_configs),
              "--results", str(results), "--runs", str(runs)])


def test_leaderboard_rejects_a_split_without_config(tmp_path):
    with pytest.raises(GazslError, match="no experiment config for split 'moon_easy'"):
        main(["--splits", "moon_easy", "--configs", str(tmp_path)])


def test_the_committed_leaderboard_renders_from_its_json_alone(tmp_path):
    """leaderboard.md is what --render-only makes of leaderboard.json (and the records it cites), with no run: the
    committed file and its figures cannot drift apart, and a change of layout is redone without rerunning anything."""
    repo = Path(__file__).resolve().parents[1]
    committed = repo / "experiments" / "results"
    for name in ("leaderboard.json", "validation_rule.json", "benchmark.json"):
        shutil.copy(committed / name, tmp_path)
    splits = sorted({c["split"] for c in json.loads((committed / "leaderboard.json").read_text())["cells"]})
    for split in splits:  # gazsl.reproduce's files, as it writes them before the leaderboard exists: no verdict
        text = (committed / f"{split}.md").read_text()
        (tmp_path / f"{split}.md").write_text(f"# {split}\n\n" + text[text.index("Made by:"):])
    main(["--render-only", "--results", str(tmp_path), "--configs", str(repo / "experiments" / "configs"),
          "--runs", str(tmp_path / "no_runs")])
    assert (tmp_path / "leaderboard.md").read_text() == (committed / "leaderboard.md").read_text()
    for split in splits:  # each split's file opens with the leaderboard's verdict on it
        assert (tmp_path / f"{split}.md").read_text() == (committed / f"{split}.md").read_text()
        assert (committed / f"{split}.md").read_text().split("\n")[2].startswith("**Verdict.**")
    assert sorted(p.name for p in tmp_path.glob("*_top1.png")) == sorted(p.name for p in committed.glob("*_top1.png"))
    assert not (tmp_path / "no_runs").exists()


def test_render_only_without_figures_says_so_in_one_line(tmp_path):
    with pytest.raises(GazslError, match="leaderboard figures not found"):
        main(["--render-only", "--results", str(tmp_path)])
