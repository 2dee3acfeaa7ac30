"""docs/own-method.md's worked example, run as written: its method module and design saved in a folder of their own
(outside the package, nothing installed), then its commands, each a new process from that folder."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "own-method.md"


def example(name: str, language: str) -> str:
    """The code block that follows ``<!-- example: name -->`` in the page."""
    text = DOC.read_text(encoding="utf-8")
    return re.search(rf"<!-- example: {re.escape(name)} -->\n```{language}\n(.*?)```", text, re.S).group(1)


def test_the_worked_example_runs_and_writes_its_verdict(tmp_path):
    store = DOC.parents[1] / "features" / "aviary.h5"  # the repository's aviary, built on first use as a user's is
    work = tmp_path / "work"
    work.mkdir()
    (work / "my_method.py").write_text(example("my_method.py", "python"))
    (work / "my_design.json").write_text(example("my_design.json", "json"))
    env = {**{k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
           "GAZSL_FEATURES": str(store.parent)}  # the thread count a user gets
    outputs = []
    for line in example("commands", "bash").strip().splitlines():
        if line.startswith("export PYTHONPATH=$PWD"):  # the folder of the user's module, before gazsl's own
            env["PYTHONPATH"] = os.pathsep.join([str(work), env.get("PYTHONPATH", "")])
            continue
        args = shlex.split(line)
        assert args[0] == "gazsl", line
        done = subprocess.run([sys.executable, "-m", "gazsl", *args[1:]], cwd=work, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout)
    assert len(outputs[0].splitlines()) == 6  # 3 folds x (prototype, the plugin)
    verdict = (work / "results" / "benchmark.md").read_text().split("Made by")[0]
    assert "recommended features_to_text minus the best baseline (prototype)" in verdict
    assert "points of top-1" in verdict and "points of H" in verdict
    table = json.loads((work / "results" / "benchmark.json").read_text())
    s = table["protocols"]["aviary_scs"]
    assert s["plugins"]["features_to_text"] == {"import": "my_method:FeaturesToText", "version": "0.1"}
    top1 = s["methods"]["features_to_text"]["test_mean"]
    assert 100 / 30 * 3 < top1 <= 100  # far above chance among a fold's 30 unseen classes: it learns, not only runs
    chosen = [c["rows"]["features_to_text"]["params"]["alpha"] for c in table["cells"]
              if c["cell"]["method"] == "features_to_text"]
    assert set(chosen) <= {0.1, 1.0, 10.0}
