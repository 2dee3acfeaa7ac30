"""Progress on a terminal and off it (gazsl.progress): the rate of the lines, the phases announced, GAZSL(verbose=)."""

import io
import json
import logging
import re
import subprocess
import sys

import numpy as np
import pytest

import gazsl
from gazsl.generator.gan import GAZSL
from gazsl.progress import INTERVAL_ENV, Progress
from test_run_safety import DEFAULT_THREADS_ENV

TINY = gazsl.preset("cpu").replace(text_reduced_dim=8, generator_hidden=16, critic_hidden=16, batch_size=32,
                                   critic_steps=1, iterations=25, samples_per_class=4, knn_k=3, device="cpu", bf16="off")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def lines_while(total: int, seconds_per_unit: float, interval_s: float = 30.0) -> list[str]:
    """The lines a Progress off a terminal prints for ``total`` units of ``seconds_per_unit`` each."""
    out, clock = io.StringIO(), FakeClock()
    with Progress("select (phase 1 of 2)", total, sink=out, interval_s=interval_s, clock=clock) as progress:
        for _ in range(total):
            clock.now += seconds_per_unit
            progress.update()
    return out.getvalue().splitlines()


def counts(lines: list[str], unit: str = "iteration") -> list[int]:
    return [int(re.search(rf"{unit} (\d+)/", line).group(1)) for line in lines]


def test_fast_work_gets_a_line_every_tenth():
    lines = lines_while(100, seconds_per_unit=0.1)
    assert counts(lines) == list(range(0, 101, 10))
    assert lines[5] == "select (phase 1 of 2): iteration 50/100 (50%), 0:05 elapsed, about 0:10 in all"


def test_slow_work_gets_a_line_every_interval():
    lines = lines_while(100, seconds_per_unit=7.0)  # 10 % is 70 s: the 30 s rule comes first, every 5th unit
    assert counts(lines) == list(range(0, 101, 5))
    assert lines[2] == "select (phase 1 of 2): iteration 10/100 (10%), 1:10 elapsed, about 11:40 in all"


def test_the_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(INTERVAL_ENV, "0")
    out = io.StringIO()
    with Progress("fit", 40, sink=out, clock=FakeClock()) as progress:
        for _ in range(40):
            progress.update()
    assert counts(out.getvalue().splitlines()) == list(range(41))


def test_a_resumed_run_estimates_from_its_own_pace():
    out, clock = io.StringIO(), FakeClock()
    with Progress("final", 100, initial=60, sink=out, interval_s=1e9, clock=clock) as progress:
        for _ in range(40):
            clock.now += 1.0
            progress.update()
    lines = out.getvalue().splitlines()
    assert counts(lines) == [60, 70, 80, 90, 100]
    assert lines[1].endswith("0:10 elapsed, about 0:40 in all")  # 40 iterations left at 1 s each, not 100


def test_a_terminal_gets_a_bar_not_lines():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    with Progress("fit", 50, sink=out, interval_s=0) as progress:
        for _ in range(50):
            progress.update()
    assert "\r" in out.getvalue() and "50/50" in out.getvalue() and "iteration 1/50" not in out.getvalue()


def test_a_bad_interval_in_the_environment_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(INTERVAL_ENV, "soon")
    with pytest.raises(ValueError, match=f"{INTERVAL_ENV}='soon': expected a number of seconds"):
        Progress("fit", 10, sink=io.StringIO())


# ------------------------------------------------------------------ GAZSL(verbose=)
@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    text = rng.normal(size=(5, 7)).astype(np.float32)
    labels = np.repeat(np.arange(5), 8)
    return text, np.abs(text[labels, :6] + 0.2 * rng.normal(size=(40, 6))).astype(np.float32), labels


def test_verbose_fit_reports_through_logging_and_trains_alike(data, caplog):
    caplog.set_level(logging.INFO, logger="gazsl")
    quiet = GAZSL(TINY, random_state=0).fit(*data)
    assert not caplog.records
    loud = GAZSL(TINY, random_state=0, verbose=1).fit(*data)
    messages = [r.getMessage() for r in caplog.records if r.name == "gazsl"]
    assert messages[0] == f"GAZSL.fit: iteration 0/{TINY.iterations} (0%), 0:00 elapsed"
    assert messages[-1].startswith(f"GAZSL.fit: iteration {TINY.iterations}/{TINY.iterations} (100%)")
    assert all(r.levelno == logging.INFO for r in caplog.records)
    # reporting reads the clock only: the same weights and answers as a quiet fit
    assert np.array_equal(quiet.scores(data[0], data[1]), loud.scores(data[0], data[1]))


def test_verbose_is_a_parameter_that_is_checked(data):
    model = GAZSL(TINY, verbose=2)
    assert model.get_params()["verbose"] == 2 and model.set_params(verbose=0).verbose == 0
    with pytest.raises(ValueError, match="verbose must be an integer >= 0"):
        GAZSL(TINY, verbose=-1).fit(*data)


def test_verbose_fit_is_seen_in_a_script_that_configures_no_logging():
    script = ("import numpy as np, gazsl\n"
              "rng = np.random.default_rng(0); t = rng.normal(size=(5, 7)).astype(np.float32)\n"
              "y = np.repeat(np.arange(5), 8); x = np.abs(t[y, :6]).astype(np.float32)\n"
              "config = gazsl.preset('cpu').replace(text_reduced_dim=8, generator_hidden=16, critic_hidden=16, "
              "batch_size=32, critic_steps=1, iterations=6, bf16='off')\n"
              "gazsl.GAZSL(config, verbose=1).fit(t, x, y)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=DEFAULT_THREADS_ENV,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("GAZSL.fit: iteration 6/6 (100%)"), result.stderr


# ------------------------------------------------------------------ gazsl train with its output in a file
def test_a_short_aviary_run_with_output_to_a_file_announces_its_phases_and_reports_every_tenth(tmp_path):
    store = tmp_path / "aviary.h5"
    built = subprocess.run([sys.executable, "-m", "gazsl.aviary", "build", "--out", store,
                            "--corpus-root", tmp_path / "corpora"], capture_output=True, text=True,
                           env=DEFAULT_THREADS_ENV, timeout=300)
    assert built.returncode == 0, built.stderr
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"iterations": 20, "text_reduced_dim": 16, "generator_hidden": 32,
                                  "critic_hidden": 32, "batch_size": 64, "critic_steps": 1, "eval_start": 10,
                                  "eval_every": 10, "samples_per_class": 5, "knn_k": 3, "bf16": "off"}))
    log = tmp_path / "train.log"
    with open(log, "w") as f:  # stdout and stderr to a file, as `gazsl train ... > train.log 2>&1`
        code = subprocess.run([sys.executable, "-m", "gazsl.train", "--split", "aviary_easy", "--store", store,
                               "--config", config, "--out", tmp_path / "run"], stdout=f, stderr=subprocess.STDOUT,
                              env={**DEFAULT_THREADS_ENV, INTERVAL_ENV: "1e9"}, timeout=600).returncode  # the 10 % rule alone
    lines = log.read_text().splitlines()
    assert code == 0, lines
    n_final = json.loads((tmp_path / "run" / "metrics.json").read_text())["n_seen_classes"]
    assert re.fullmatch(rf".*: honest protocol: selection run on \d+ classes \(up to 20 iterations\), then final run "
                        rf"on {n_final} classes to the iteration count the selection chooses \(at most as many\)",
                        lines[0]), lines[0]
    for phase in ("select (phase 1 of 2)", "final (phase 2 of 2)"):
        reported = [line for line in lines if line.startswith(phase + ": ")]
        total = int(re.search(r"/(\d+) ", reported[0]).group(1))  # the final run's: as long as the selection chose
        assert total in (10, 20) and counts(reported) == list(range(0, total + 1, total // 10)), reported
        assert all(" elapsed" in line for line in reported)
    assert lines[-1].startswith("aviary_easy seed 0, honest protocol: top-1")


def test_photo_feature_extraction_reports_images_done_off_a_terminal(tmp_path, monkeypatch, capsys):
    from gazsl.vision import backbone as vision

    dim = vision.BACKBONES["efficientnet-lite0"].dim
    monkeypatch.setattr(vision, "load_backbone", lambda name: None)  # the count is under test, not the network
    monkeypatch.setattr(vision, "load_image", lambda path, size, box=None: np.zeros((3, 2, 2), np.float32))
    monkeypatch.setattr(vision, "embed_batch", lambda model, batch: np.zeros((len(batch), dim), np.float32))
    features = vision.extract(tmp_path, [f"c/{i}.jpg" for i in range(10)], tmp_path / "f.npz", batch_size=4)
    reported = [line for line in capsys.readouterr().err.splitlines() if line.startswith("efficientnet-lite0 features")]
    assert features.shape == (10, dim)
    assert counts(reported, "image") == [0, 4, 8, 10]
