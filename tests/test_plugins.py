"""Methods as plugins: a class outside the package, named by import path, runs in the benchmark exactly as a built-in;
a plugin that is missing, raises or answers bad scores stops its own cell in one line; a design without GAZSL."""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import cli_error_line

PLUGIN = textwrap.dedent('''
    """A user's method: gazsl's prototype regression, wrapped, in a module of their own."""
    import numpy as np

    from gazsl.scoring.baselines import PrototypeRegression
    from gazsl.scoring.estimator import Params

    __version__ = "0.3.1"


    class WrappedPrototype(Params):
        param_grid = {"alpha": [0.01, 0.1, 1.0, 10.0], "feature_norm": ["none", "l2", "zscore"]}

        def __init__(self, alpha=1.0, feature_norm="none"):
            self.alpha = alpha
            self.feature_norm = feature_norm

        def fit(self, text_seen, X, y):
            self.inner_ = PrototypeRegression(alpha=self.alpha, feature_norm=self.feature_norm).fit(text_seen, X, y)
            return self

        def scores(self, text, X):
            return self.inner_.scores(text, X)


    class NaNScores(WrappedPrototype):
        def scores(self, text, X):
            s = super().scores(text, X)
            s[3, 1] = np.nan
            return s


    class WrongShape(WrappedPrototype):
        def scores(self, text, X):
            return super().scores(text, X)[:, :-1]


    class Raises(WrappedPrototype):
        def fit(self, text_seen, X, y):
            raise RuntimeError("out of coffee")
''')


@pytest.fixture
def plugin_folder(tmp_path, monkeypatch):
    """The plugin's module in a folder outside the package, on the path of this process and of its children."""
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "my_zsl_method.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    yield folder
    sys.modules.pop("my_zsl_method", None)


def toy_design(tmp_path, methods: dict, baselines=("prototype",), **extra) -> object:
    design = json.loads(open(os.path.join(os.path.dirname(__file__), "..", "experiments", "benchmark.json")).read())
    design.update(protocols={"toy_scs": {"store": "toy", "text": "tfidf", "rule": "random", "folds": 2,
                                         "repeats": 1, "seed": 0}},
                  validation_folds=2, seeds=1, baselines=list(baselines), trainings={}, methods=methods,
                  recommended={"method": next(iter(methods))}, **extra)
    path = tmp_path / "design.json"
    path.write_text(json.dumps(design))
    return path


def test_a_plugin_named_by_import_path_gives_the_built_in_prototypes_figures_cell_for_cell(toy_store, plugin_folder,
                                                                                           tmp_path):
    design = toy_design(tmp_path, {"my_prototype": "my_zsl_method:WrappedPrototype"},
                        claim_figures=["zsl_top1", "ausuc", "gzsl_h"])
    env = {**os.environ, "GAZSL_FEATURES": str(toy_store.parent), "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "gazsl", "benchmark", "--design", str(design), "--runs", str(tmp_path / "runs")]
    listed = subprocess.run([*base, "list"], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 4  # 2 folds x (prototype, the plugin)
    # each cell a process of its own, as on a cluster
    procs = [subprocess.Popen(line.replace("gazsl benchmark", f"{sys.executable} -m gazsl benchmark", 1).split(),
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for line in listed.stdout.splitlines()]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
        # off a terminal a cell tells of its fits (settings x validation folds, then the 2 final fits) as they end
        assert re.search(r"\(the honest protocol's fits\): fit (\d+)/\1 \(100%\)", p.stderr.read())
    done = subprocess.run([*base, "table", "--results", str(tmp_path / "results")], env=env, capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr  # a design without any GAZSL training writes its table

    table = json.loads((tmp_path / "results" / "benchmark.json").read_text())
    s = table["protocols"]["toy_scs"]
    assert set(s["methods"]) == {"prototype", "my_prototype"}  # no gazsl_chosen without GAZSL rows
    assert s["methods"]["my_prototype"] == s["methods"]["prototype"]
    for key in ("ausuc", "gzsl_h"):
        assert s["gzsl"][key]["methods"]["my_prototype"] == s["gzsl"][key]["methods"]["prototype"]
        assert s["gzsl"][key]["versus_best_baseline"]["my_prototype"]["mean"] == 0
    cells = {(c["cell"]["method"], c["cell"]["fold"]): c for c in table["cells"]}
    for fold in (0, 1):
        mine, builtin = cells[("my_prototype", fold)], cells[("prototype", fold)]
        assert mine["rows"]["my_prototype"] == builtin["rows"]["prototype"]  # every figure and chosen setting
        assert mine["definition"]["plugin"] == {"import": "my_zsl_method:WrappedPrototype", "version": "0.3.1"}
        assert "plugin" not in builtin["definition"]
    assert s["plugins"]["my_prototype"]["version"] == "0.3.1"
    text = (tmp_path / "results" / "benchmark.md").read_text()
    assert "`my_zsl_method:WrappedPrototype` version 0.3.1" in text
    verdict = text.split("Made by")[0]
    assert "+0.0 [+0.0, +0.0] points of top-1" in verdict and "points of AUSUC" in verdict and "points of H" in verdict
    assert "| method | AUSUC % |" in text


@pytest.mark.parametrize("reference, problem, fitting", [  # fitting: the fits' progress came before the error
    ("my_zsl_method:NaNScores", "method my_zsl_method:NaNScores: scores returned a non-finite score (NaN or inf) in row 3",
     True),
    ("my_zsl_method:WrongShape", "method my_zsl_method:WrongShape: scores returned scores of shape", True),
    ("my_zsl_method:Raises", "method my_zsl_method:Raises: fit raised RuntimeError: out of coffee", True),
    ("my_zsl_method:Absent", "method 'my_zsl_method:Absent': module 'my_zsl_method' has no attribute 'Absent'", False),
    ("no_such_module:Method", "method 'no_such_module:Method': cannot import module 'no_such_module'", False),
])
def test_a_broken_plugin_stops_its_own_cell_in_one_line_and_the_others_run(toy_store, plugin_folder, tmp_path,
                                                                            monkeypatch, capsys, reference, problem,
                                                                            fitting):
    from gazsl.benchmark import main

    design = toy_design(tmp_path, {"broken": reference})
    monkeypatch.setenv("GAZSL_FEATURES", str(toy_store.parent))
    argv = ["--design", str(design), "--runs", str(tmp_path / "runs"), "cell", "--protocol", "toy_scs", "--repeat",
            "0", "--fold", "0", "--seed", "0"]
    line = cli_error_line(capsys, main, [*argv, "--method", "broken"], after_progress=fitting)
    assert problem in line
    assert not (tmp_path / "runs" / "toy_scs" / "r0f0" / "broken" / "seed0" / "cell.json").exists()
    main([*argv, "--method", "prototype"])  # the design's other cells are unharmed
    assert (tmp_path / "runs" / "toy_scs" / "r0f0" / "prototype" / "seed0" / "cell.json").exists()


def test_a_plugin_is_found_as_a_baseline_is_and_its_grid_and_seed_are_the_protocols(plugin_folder):
    from gazsl.scoring.methods import resolve

    spec = resolve("my_zsl_method:WrappedPrototype")
    assert not spec.builtin and spec.version == "0.3.1" and len(spec.candidates()) == 12
    assert resolve("prototype").candidates() == spec.candidates()  # the same grid as the built-in's
    assert resolve("wac_linear").maker(7)({}).random_state == 7
    rng = np.random.default_rng(0)
    model = spec.maker(0)({"alpha": 0.1}).fit(rng.normal(size=(4, 6)), rng.normal(size=(20, 5)), np.arange(20) % 4)
    assert model.scores(rng.normal(size=(3, 6)), rng.normal(size=(7, 5))).shape == (7, 3)


def test_the_leaderboard_scores_a_plugin_as_a_baseline_with_the_same_figures(toy_configs, plugin_folder, tmp_path):
    from gazsl.leaderboard import main

    plugin = "my_zsl_method:WrappedPrototype"
    main(["--splits", "toy_easy", "--seeds", "1", "--methods", "prototype", plugin, "--configs", str(toy_configs),
          "--results", str(tmp_path / "results"), "--runs", str(tmp_path / "runs")])
    cells = {c["method"]: c for c in json.loads((tmp_path / "results" / "leaderboard.json").read_text())["cells"]}
    assert cells[plugin]["plugin"] == {"import": plugin, "version": "0.3.1"}
    for key in ("zsl_top1", "ausuc", "gzsl_h", "val_top1_per_class", "params"):
        assert cells[plugin][key] == cells["prototype"][key]
    assert f"`{plugin}` version 0.3.1" in (tmp_path / "results" / "leaderboard.md").read_text()


def test_gazsl_tune_tunes_a_plugin_as_the_built_in_with_the_same_trials(plugin_folder, tmp_path):
    pytest.importorskip("optuna", reason="Optuna is not installed (pip install 'gazsl[tune]')")
    from conftest import make_toy_store
    from gazsl.tune import main as tune
    from gazsl.tuning.study import open_storage

    import optuna

    store = make_toy_store(tmp_path / "toy.h5")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "toy_easy.json").write_text(json.dumps({"split": "toy_easy", "preset": "cpu",
                                                                    "store": str(store), "overrides": {}}))
    values = {}
    for method in ("prototype", "my_zsl_method:WrappedPrototype"):
        space = tmp_path / "space.json"
        space.write_text(json.dumps({"method": method, "params": {"alpha": {"choices": [300.0]},
                                                                  "feature_norm": {"choices": ["none"]}}}))
        storage = str(tmp_path / "study.log")
        tune(["--split", "toy_easy", "--configs", str(tmp_path / "configs"), "--results", str(tmp_path / "results"),
              "--method", method, "--space", str(space), "--trials", "2", "--storage", storage, "--study", method])
        study = optuna.load_study(study_name=method, storage=open_storage(storage))
        values[method] = [(t.params, t.value) for t in study.trials]
    assert values["my_zsl_method:WrappedPrototype"] == values["prototype"]  # the same validation figure
    assert len(values["prototype"]) == 2
