"""bf16 auto | on | off: how `auto` decides (the probe simulated), what a run records, and that float32 stays float32."""

import json

import pytest
import torch

from gazsl.generator import config as config_module
from gazsl.generator import precision
from gazsl.io import GazslError
from gazsl.protocols.training import train

CPU = torch.device("cpu")


def fake_cpu(monkeypatch, instructions, speedup=None):
    """A CPU reporting ``instructions`` whose probe measures ``speedup`` (None: the probe must not run)."""
    def probe(*shape, **kwargs):
        assert speedup is not None, "the probe ran where the decision needed no timing"
        return speedup

    monkeypatch.setattr(precision, "cpu_bf16_instructions", lambda: list(instructions))
    monkeypatch.setattr(precision, "probe_speedup", probe)


def test_auto_is_off_on_a_cpu_without_bf16_instructions(monkeypatch):
    fake_cpu(monkeypatch, [])
    decided = precision.resolve("auto", CPU, 256, 1280, 512)
    assert not decided.bf16 and "no native bf16" in decided.reason


def test_auto_is_off_where_the_probe_finds_bf16_products_not_faster(monkeypatch):
    fake_cpu(monkeypatch, ["avx512_bf16"], speedup=1.2)
    decided = precision.resolve("auto", CPU, 256, 1280, 512)
    assert not decided.bf16
    assert "1.20x" in decided.reason and "256x1280x512" in decided.reason


def test_auto_is_on_where_the_probe_finds_bf16_clearly_faster(monkeypatch):
    fake_cpu(monkeypatch, ["amx_bf16"], speedup=3.9)
    decided = precision.resolve("auto", CPU, 256, 1280, 512)
    assert decided.bf16 and decided.reason.startswith("auto: amx_bf16, probe 3.9x faster at 256x1280x512")


def test_a_measured_accuracy_verdict_keeps_auto_off(monkeypatch):
    fake_cpu(monkeypatch, ["avx512_bf16"], speedup=None)
    monkeypatch.setitem(precision.ACCURACY_VERDICTS, "cpu", "bf16 moved cub100_hard's top-1 by 2.0 (seeds' spread 0.5)")
    decided = precision.resolve("auto", CPU, 256, 1280, 512)
    assert not decided.bf16 and "cub100_hard" in decided.reason


@pytest.mark.parametrize("setting, bf16", [("on", True), ("off", False)])
def test_on_and_off_are_obeyed_without_probing(monkeypatch, setting, bf16):
    fake_cpu(monkeypatch, [], speedup=None)
    assert precision.resolve(setting, CPU, 256, 1280, 512) == precision.Precision(bf16, f"{setting}: set in the config")
    with pytest.raises(ValueError, match="bf16 must be one of"):
        precision.resolve(True, CPU, 256, 1280, 512)


def test_instructions_are_read_from_cpuinfo_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx_vnni\n\n"
                       "processor\t: 1\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx_vnni\n")
    assert precision.cpu_bf16_instructions(cpuinfo) == ["avx512_bf16"]
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert precision.cpu_bf16_instructions(cpuinfo) == []
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")  # Arm
    assert precision.cpu_bf16_instructions(cpuinfo) == ["bf16"]


def test_the_probe_measures_without_touching_the_global_random_state():
    state = torch.get_rng_state()
    ratio = precision.probe_speedup(8, 16, 8, seconds=0.0, min_rounds=1)
    assert ratio > 0 and torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("stored, setting", [(True, "on"), (False, "off"), ("auto", "auto")])
def test_configs_stored_with_a_boolean_bf16_still_load(tmp_path, stored, setting):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"bf16": stored, "lr": 1e-3}))
    assert config_module.load(path, config_module.preset("cpu")).bf16 == setting


def test_an_unknown_bf16_value_is_refused_in_one_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"bf16": "fast"}))
    with pytest.raises(GazslError, match="'bf16' must be one of"):
        config_module.load(path, config_module.preset("cpu"))


def tiny(tiny_config_file, **changes):
    return config_module.load(tiny_config_file, config_module.preset("cpu")).replace(iterations=30, **changes)


FIGURES = ("zsl_top1", "zsl_top1_per_class", "ausuc", "gzsl_seen", "gzsl_unseen", "gzsl_h", "calibration",
           "val_top1", "iterations")


def test_auto_resolved_to_float32_trains_exactly_as_off(monkeypatch, toy_store, tiny_config_file, tmp_path):
    """The probe's own work (its timings, its random operands) changes no figure: only its decision counts."""
    real_probe = precision.probe_speedup
    monkeypatch.setattr(precision, "cpu_bf16_instructions", lambda: ["avx512_bf16"])
    monkeypatch.setattr(precision, "probe_speedup", lambda *shape: real_probe(*shape) * 0)  # runs, decides off
    auto = train("toy_easy", tiny(tiny_config_file, bf16="auto"), tmp_path / "auto", store_path=toy_store)
    off = train("toy_easy", tiny(tiny_config_file, bf16="off"), tmp_path / "off", store_path=toy_store)
    assert auto["bf16"] is False and "probe found bf16 only 0.00x" in auto["bf16_reason"]
    assert off["bf16"] is False and off["bf16_reason"] == "off: set in the config"
    assert {k: auto[k] for k in FIGURES} == {k: off[k] for k in FIGURES}


def test_a_run_records_its_precision_and_a_resumed_run_reuses_it(monkeypatch, toy_store, tiny_config_file, tmp_path):
    fake_cpu(monkeypatch, ["avx512_bf16"], speedup=3.0)
    config = tiny(tiny_config_file, bf16="auto")
    first = train("toy_easy", config, tmp_path / "run", store_path=toy_store)
    assert first["bf16"] is True and first["bf16_reason"] == "auto: avx512_bf16, probe 3.0x faster at 64x32x32, " \
        f"{torch.get_num_threads()} thread" + "s" * (torch.get_num_threads() > 1)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["precision"] == {"bf16": True, "bf16_reason": first["bf16_reason"]}
    assert recorded["config"]["bf16"] == "auto"

    fake_cpu(monkeypatch, [], speedup=None)  # this machine would now decide otherwise, and must not be asked
    (tmp_path / "run" / "metrics.json").unlink()
    again = train("toy_easy", config, tmp_path / "run", store_path=toy_store, resume=True)
    assert (again["bf16"], again["bf16_reason"]) == (True, first["bf16_reason"])
    assert {k: again[k] for k in FIGURES} == {k: first[k] for k in FIGURES}
