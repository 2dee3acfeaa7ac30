"""The precision a run trains in, bf16 autocast or float32: decided once, from ``Config.bf16``, and recorded.

``Config.bf16`` is ``auto | on | off``. ``resolve`` turns it into a ``Precision``
(bf16 or not, and why), which gazsl.train records in config.json and
metrics.json (``"bf16"``, ``"bf16_reason"``) and bench/train_step.py prints.

``auto``
    GPU: on where the device supports bf16.
    CPU: on only where all of these hold:
    1. the processor has native bf16 matrix instructions (avx512_bf16 or
       amx_bf16 on x86, bf16 on Arm). Without them bf16 products are emulated,
       and no faster than float32;
    2. no measured accuracy verdict stands against bf16 on this device type
       (``ACCURACY_VERDICTS``, from experiments/results/precision.md);
    3. a probe, a few timed products at the step's dominant shape
       (batch x features @ features x critic_hidden), finds bf16 at least
       ``PROBE_MARGIN`` times faster than float32.

bf16 covers the products only: master weights, optimiser state and the
reductions of the losses and the gradient penalty stay float32
(gazsl/generator/fast_step.py). The probe is a timing, so another machine, or this one
under other load, may decide otherwise; hence the decision is recorded with the
measured ratio, a resumed run reuses its recorded decision instead of probing
again, and the margin is wide (a CPU with bf16 instructions measures about 4x)
so that one machine decides the same way run after run. The probe draws its
operands from its own generator and leaves nothing behind that training reads:
it changes no figure except through its decision.
"""

from __future__ import annotations

import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from gazsl.generator.config import KNOWN_BF16

PROBE_MARGIN = 1.5  # bf16 products must be this many times faster than float32 for `auto` to pick them
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 (AVX-512 BF16, AMX), Arm (FEAT_BF16) /proc/cpuinfo flags

# Where bf16 moved a split's mean top-1 by more than the seeds' spread (experiments/results/precision.md,
# made by experiments/precision.py, which prints the entry to add here): device type -> why `auto` stays off.
ACCURACY_VERDICTS: dict[str, str] = {}


@dataclass(frozen=True)
class Precision:
    bf16: bool
    reason: str

    @property
    def setting(self) -> str:
        """The forced ``Config.bf16`` value that computes as this precision does."""
        return "on" if self.bf16 else "off"

    def to_dict(self) -> dict:
        return {"bf16": self.bf16, "bf16_reason": self.reason}

    @classmethod
    def from_record(cls, record: dict) -> "Precision | None":
        """The decision recorded in a run's config.json or metrics.json; None for a run made before it was recorded."""
        if not isinstance(record.get("bf16"), bool) or not isinstance(record.get("bf16_reason"), str):
            return None
        return cls(record["bf16"], record["bf16_reason"])


def cpu_bf16_instructions(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The native bf16 matrix instruction sets this CPU reports (empty where it has none or cannot tell)."""
    if cpuinfo.exists():  # Linux: x86 "flags", Arm "Features"
        words = set()
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                words.update(value.split())
        return [flag for flag in CPU_BF16_FLAGS if flag in words]
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True, timeout=5)
        except OSError:
            return []
        return ["bf16"] if out.stdout.strip() == "1" else []
    return []


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name as the system reports it (benchmark records state speeds and bf16 with it)."""
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def _best_seconds(fn, repeats: int) -> float:
    """Best wall-clock seconds of one call of ``fn`` over ``repeats`` timings."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def probe_speedup(batch: int, features: int, hidden: int, seconds: float = 0.5, min_rounds: int = 5) -> float:
    """float32 time over bf16 time of a (batch, features) @ (features, hidden) product on the CPU, best of each.

    Each timing repeats the product until it lasts about 10 ms, so that small shapes are measured too. float32
    and bf16 timings alternate, ``min_rounds`` of each and more until ``seconds`` have passed: on a shared
    machine the best of many is the least disturbed. A few seconds at the paper's shapes on one core, 0.5 s
    at small ones. The operands come from a private generator; no global state is touched.
    """
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(batch, features, generator=generator)
    b = torch.randn(features, hidden, generator=generator)
    operands = {torch.float32: (a, b), torch.bfloat16: (a.bfloat16(), b.bfloat16())}
    inner = {dtype: max(1, min(1000, round(0.01 / max(_best_seconds(lambda: torch.mm(x, y), 2), 1e-7))))
             for dtype, (x, y) in operands.items()}  # products per timing
    best = dict.fromkeys(operands, float("inf"))
    start, rounds = time.perf_counter(), 0
    while rounds < min_rounds or (time.perf_counter() - start < seconds and rounds < 100):
        for dtype, (x, y) in operands.items():
            elapsed = _best_seconds(lambda: [torch.mm(x, y) for _ in range(inner[dtype])], 1)
            best[dtype] = min(best[dtype], elapsed / inner[dtype])
        rounds += 1
    return best[torch.float32] / best[torch.bfloat16]


def resolve(setting: str, device: torch.device, batch: int, features: int, hidden: int) -> Precision:
    """The precision of a run on ``device`` whose critic multiplies (batch, features) @ (features, hidden)."""
    if setting not in KNOWN_BF16:
        raise ValueError(f"bf16 must be one of {KNOWN_BF16}, got {setting!r}")
    if setting != "auto":
        return Precision(setting == "on", f"{setting}: set in the config")
    device = torch.device(device)
    if device.type in ACCURACY_VERDICTS:
        return Precision(False, f"auto: off on {device.type}, {ACCURACY_VERDICTS[device.type]}")
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        if torch.cuda.get_device_capability(device) >= (8, 0):  # Ampere and later multiply bf16 natively
            return Precision(True, f"auto: {name} supports bf16")
        return Precision(False, f"auto: {name} has no native bf16 (compute capability below 8.0)")
    if device.type != "cpu":
        return Precision(False, f"auto: bf16 is not chosen automatically on {device.type}")
    instructions = cpu_bf16_instructions()
    if not instructions:
        return Precision(False, "auto: this CPU has no native bf16 matrix instructions "
                                f"(none of the flags {', '.join(CPU_BF16_FLAGS)})")
    # A timing: another machine, or this one under other load, may decide otherwise. Decision and ratio are recorded.
    ratio = probe_speedup(batch, features, hidden)
    shape = f"{batch}x{features}x{hidden}, {torch.get_num_threads()} thread{'s' * (torch.get_num_threads() > 1)}"
    if ratio >= PROBE_MARGIN:
        return Precision(True, f"auto: {'+'.join(instructions)}, probe {ratio:.1f}x faster at {shape}")
    return Precision(False, f"auto: {'+'.join(instructions)}, but the probe found bf16 only {ratio:.2f}x as fast at "
                            f"{shape} (needs {PROBE_MARGIN}x)")
