"""How fast one GAZSL iteration runs, measured against this machine's own GEMM throughput.

    python bench/train_step.py --shapes cub [--device cpu|cuda] [--iters N] [--impl fast|reference]
                               [--bf16 auto|on|off] [--compile] [--profile] [--seed 0] [--no-reference]

Prints, from one process: the reference FLOPs of one iteration (the plain
formulation of gazsl.generator.step.reference_step, text layer once per sample; formula
in gazsl.generator.fast_step.reference_gemm_flops, checked against the dispatched GEMMs
by tests/test_fast_step.py), the precision (``--bf16``, decided as training
decides it: gazsl.generator.precision), the GEMM throughput measured here on the
workload's dominant product in that precision, iterations per second,
evaluation throughput (cosine 20-NN against 60 generated features per unseen
class), ``efficiency=0.xx`` = reference FLOPs / iteration time / GEMM
throughput (only exact savings of work can lift it above 1), and, for the fast
step, last ``speedup=X.XX``: the reference step's iteration time (float32, the
plain formulation, timed in the same run) over the fast step's. Data are
synthetic random tensors of the named shapes; no data files are read.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from gazsl.scoring import evaluate as ev
from gazsl.generator.config import preset
from gazsl.generator.fast_step import StepShape, fast_gemm_flops, fast_step, make_optimizers, reference_gemm_flops
from gazsl.generator.model import Critic, Generator, generate
from gazsl.generator.precision import Precision, resolve
from gazsl.generator.step import EpochSampler, TrainingData, draw_inputs, reference_step

# text: vocabulary size; train/test: image counts (synthetic, of the datasets' order of size)
SHAPES = {
    "cub": dict(preset="paper", text=7551, features=3584, seen=150, unseen=50, train=7057, test=2967),
    "nab": dict(preset="paper", text=13217, features=3584, seen=323, unseen=81, train=24000, test=6000),
    "cub100": dict(preset="paper", text=7000, features=1280, seen=77, unseen=23, train=4600, test=1400),
    "aviary": dict(preset="cpu", text=2000, features=512, seen=117, unseen=33, train=7000, test=2000),
}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device) -> tuple[float, float]:
    """(wall-clock seconds, process CPU seconds) of one call of ``fn``."""
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def best_time(fn, device, repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds over ``repeats`` calls."""
    runs = [timed(fn, device) for _ in range(repeats)]
    return min(wall for wall, _ in runs), min(cpu for _, cpu in runs)


def gemm_throughput(m: int, k: int, n: int, device, dtype=torch.float32, repeats: int = 5) -> tuple[float, float]:
    """(m, k) @ (k, n): (FLOP per wall second, FLOP per CPU second), best of ``repeats`` timings of about 0.2 s."""
    a, b = torch.randn(m, k, device=device, dtype=dtype), torch.randn(k, n, device=device, dtype=dtype)
    out = torch.empty(m, n, device=device, dtype=dtype)
    once, _ = best_time(lambda: torch.mm(a, b, out=out), device, 2)
    inner = max(1, round(0.2 / once))
    wall, cpu = best_time(lambda: [torch.mm(a, b, out=out) for _ in range(inner)], device, repeats)
    return 2 * m * k * n * inner / wall, 2 * m * k * n * inner / max(cpu, 1e-9)


def fastest_thread_count(m: int, k: int, n: int) -> int:
    """Of 1 .. the cores this process may use, the thread count with the fastest (m, k) @ (k, n) float32 product.

    Virtual CPUs shared with other work may not add up: two threads can be slower than one.
    """
    speeds = {}
    for threads in range(1, len(os.sched_getaffinity(0)) + 1):
        torch.set_num_threads(threads)
        speeds[threads], _ = gemm_throughput(m, k, n, torch.device("cpu"), repeats=3)
    print("GEMM throughput by thread count: "
          + ", ".join(f"{threads}: {speed / 1e9:.1f} GFLOP/s" for threads, speed in speeds.items()))
    return max(speeds, key=speeds.get)


def median(values: list[float]) -> float:
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def synthetic_data(shape: dict, config, device, gen: torch.Generator):
    n, s, d = shape["train"], shape["seen"], shape["features"]
    labels = torch.arange(n) % s
    labels = labels[torch.randperm(n, generator=gen)]
    features = torch.randn(n, d, generator=gen)
    centroids = torch.zeros(s, d).index_add_(0, labels, features) / torch.bincount(labels, minlength=s)[:, None]
    text = torch.rand(s, shape["text"], generator=gen)
    data = TrainingData(features.to(device), labels.to(device), text.to(device), centroids.to(device))
    unseen_text = torch.rand(shape["unseen"], shape["text"], generator=gen).to(device)
    test = torch.randn(shape["test"], d, generator=gen).to(device)
    return data, unseen_text, test


def evaluate(netG: Generator, unseen_text: torch.Tensor, test: torch.Tensor, config, seed: int) -> torch.Tensor:
    """What training runs at each evaluation: generate, cosine k-NN votes, argmax. Returns (N,) predictions."""
    fake, labels = generate(netG, unseen_text, config.samples_per_class, torch.Generator().manual_seed(seed))
    return ev.knn_votes(test, fake, labels, unseen_text.shape[0], config.knn_k).argmax(dim=1)


def networks(shape: dict, config, device, adam: str):
    """Generator, critic and their optimisers: fused Adam as gazsl.generator.fast_step.make_optimizers, or torch's default."""
    netG = Generator(shape["text"], shape["features"], config).to(device)
    netD = Critic(shape["features"], shape["seen"], config).to(device)
    if adam == "fused":
        return (netG, netD, *make_optimizers(netG, netD, config))
    betas = (config.beta1, config.beta2)
    return (netG, netD, torch.optim.Adam(netG.parameters(), lr=config.lr, betas=betas),
            torch.optim.Adam(netD.parameters(), lr=config.lr, betas=betas))


def reference_seconds(shape: dict, config, device, data: TrainingData, adam: str, seed: int, warmup: int,
                      iters: int) -> float:
    """Best wall-clock seconds of one ``reference_step`` iteration (the plain formulation), on networks of its own."""
    torch.manual_seed(seed)
    netG, netD, optG, optD = networks(shape, config, device, adam)
    sampler, gen = EpochSampler(len(data.labels), config.batch_size, seed=seed), torch.Generator().manual_seed(seed)
    times = []
    for i in range(warmup + iters):
        inputs = draw_inputs(sampler, config, gen, device)
        wall, _ = timed(lambda: reference_step(netG, netD, optG, optD, data, inputs, config), device)
        if i >= warmup:
            times.append(wall)
            print(f"  reference iteration {i - warmup}: {wall:.3f} s")
    return min(times)


def profile_iteration(step, args_, device) -> None:
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step(*args_)
        sync(device)
    keys = ("self_device_time_total", "self_cuda_time_total") if device.type == "cuda" else ("self_cpu_time_total",)
    for key in keys:  # the device column's name depends on the torch version
        try:
            print(prof.key_averages().table(sort_by=key, row_limit=18))
            return
        except AttributeError:
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", choices=SHAPES, default="cub")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--iters", type=int, default=None, help="timed iterations (default: 3 on cpu, 30 on cuda)")
    parser.add_argument("--impl", choices=("fast", "reference"), default="fast")
    parser.add_argument("--bf16", choices=("auto", "on", "off"), nargs="?", const="on", default="auto",
                        help="bf16 autocast of the fast step's products (default auto, as Config.bf16; --bf16 alone: on)")
    parser.add_argument("--no-reference", action="store_true",
                        help="fast impl: do not time the reference step (no speedup line)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the critic step (fast impl)")
    parser.add_argument("--profile", action="store_true", help="profile one extra iteration, print the top ops")
    parser.add_argument("--sync-check", action="store_true",
                        help="cuda: run one extra step with torch.cuda.set_sync_debug_mode('error')")
    parser.add_argument("--adam", choices=("fused", "plain"), default="fused",
                        help="fused: gazsl.generator.fast_step.make_optimizers; plain: torch.optim.Adam's default implementation")
    parser.add_argument("--no-log", action="store_true",
                        help="fast impl: fast_step(log=False), as a training loop does between logging intervals")
    parser.add_argument("--threads", type=int, default=None,
                        help="cpu: torch threads (default: of 1 .. the machine's cores, the count whose GEMM is fastest)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = torch.device(args.device)
    shape = SHAPES[args.shapes]
    config = preset(shape["preset"]).replace(bf16="off", compile=args.compile, seed=args.seed)
    if device.type == "cpu":
        torch.set_num_threads(args.threads or fastest_thread_count(config.batch_size, shape["features"],
                                                                   config.critic_hidden))
    if args.impl == "fast":  # at the thread count chosen above, as training would decide it
        precision = resolve(args.bf16, device, config.batch_size, shape["features"], config.critic_hidden)
    else:
        precision = Precision(False, "the reference step computes in float32")
    config = config.replace(bf16=precision.setting)
    iters = args.iters or (3 if device.type == "cpu" else 30)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name()})" if device.type == "cuda" else f", {torch.get_num_threads()} threads")
          + f"; shapes {args.shapes}, impl {args.impl}, adam {args.adam}, compile {args.compile}"
          + (", log=False" if args.no_log and args.impl == "fast" else ""))
    print(f"precision: bf16 {precision.setting} ({precision.reason})")

    dims = StepShape(batch=config.batch_size, text=shape["text"], reduced=config.text_reduced_dim,
                     noise=config.noise_dim, gen_hidden=config.generator_hidden, features=shape["features"],
                     critic_hidden=config.critic_hidden, seen=shape["seen"], critic_steps=config.critic_steps)
    reference = reference_gemm_flops(dims)
    ref_flops, fast_flops = sum(reference.values()), sum(fast_gemm_flops(dims, log=not args.no_log).values())
    zero_flops = reference["critic: gp zeros through first layer"]
    print(f"reference FLOPs per iteration: {ref_flops / 1e12:.4f} TFLOP (of which {zero_flops / 1e12:.4f} multiply "
          f"the ReLU mask's zero derivative); fast formulation: {fast_flops / 1e12:.4f} TFLOP")
    for part, flops in reference.items():
        print(f"  reference {part:<52s} {flops / 1e9:9.1f} GFLOP")

    def peak_throughput(repeats: int = 5) -> tuple[float, float]:
        """GEMM FLOP per wall and per CPU second, in the precision the step computes in."""
        dtype = torch.bfloat16 if precision.bf16 else torch.float32
        return gemm_throughput(dims.batch, dims.features, dims.critic_hidden, device, dtype, repeats)

    peak, _ = peak_throughput()
    print(f"GEMM throughput {'bfloat16' if precision.bf16 else 'float32'} ({dims.batch}x{dims.features} @ "
          f"{dims.features}x{dims.critic_hidden}): {peak / 1e9:.1f} GFLOP/s")

    data, unseen_text, test = synthetic_data(shape, config, device, gen)
    netG, netD, optG, optD = networks(shape, config, device, args.adam)
    if args.impl == "fast":
        def step(*step_args):
            return fast_step(*step_args, log=not args.no_log)
    else:
        step = reference_step
    sampler = EpochSampler(len(data.labels), config.batch_size, seed=args.seed)
    warmup = 1 if device.type == "cpu" else (5 if args.compile else 2)

    start = time.perf_counter()
    inputs = [draw_inputs(sampler, config, gen, device) for _ in range(warmup + iters + args.profile + args.sync_check)]
    sync(device)
    print(f"drawing inputs: {(time.perf_counter() - start) / len(inputs) * 1e3:.1f} ms per iteration (not timed below)")
    for i in range(warmup):
        step(netG, netD, optG, optD, data, inputs[i], config)
    # The machine may be shared with other work. The headline figure is best against best: the fastest
    # iteration over the highest GEMM throughput seen in the run, both the least disturbed measurements.
    # On the CPU each iteration is also paired with a GEMM measurement taken just before it (median of
    # the paired ratios), and the same ratio in process CPU time is printed; neither sees all of the load.
    paired = device.type == "cpu"
    paired_ratios, cpu_ratios, times, peaks, last = [], [], [], [peak], {}
    for i in range(warmup, warmup + iters):
        if paired:
            wall_peak, cpu_peak = peak_throughput(repeats=3)
            peaks.append(wall_peak)
        wall, cpu = timed(lambda: last.update(log=step(netG, netD, optG, optD, data, inputs[i], config)), device)
        times.append(wall)
        if paired:
            paired_ratios.append(ref_flops / wall / peaks[-1])
            cpu_ratios.append(ref_flops / cpu / cpu_peak)
            print(f"  iteration {i - warmup}: {wall:.3f} s, GEMM {peaks[-1] / 1e9:.1f} GFLOP/s, ratio "
                  f"{paired_ratios[-1]:.3f}; CPU time {cpu:.2f} s, GEMM {cpu_peak / 1e9:.1f} GFLOP per CPU s, "
                  f"ratio {cpu_ratios[-1]:.3f}")
    peaks.append(peak_throughput()[0])
    peak = max(peaks)
    print(f"losses after {warmup + iters} iterations: "
          + ", ".join(f"{k} {v.item():.4f}" for k, v in last["log"].items()))
    mean, best = sum(times) / iters, min(times)
    efficiency = ref_flops / best / peak
    own = fast_flops if args.impl == "fast" else ref_flops
    print(f"GEMM throughput: best {peak / 1e9:.1f} GFLOP/s, lowest {min(peaks) / 1e9:.1f} GFLOP/s during the run")
    print(f"iteration: best {best:.4f} s ({1 / best:.3f} it/s), mean {mean:.4f} s ({1 / mean:.3f} it/s), "
          f"over {iters}; the {args.impl} formulation's own GEMMs run at {own / best / peak:.2f} of the best "
          f"GEMM throughput")

    netG.eval()
    evaluate(netG, unseen_text, test[:64], config, args.seed)
    eval_seconds, _ = best_time(lambda: evaluate(netG, unseen_text, test, config, args.seed), device, repeats=3)
    print(f"evaluation: {len(test) / eval_seconds:.0f} test images/s ({len(test)} images, cosine {config.knn_k}-NN "
          f"against {config.samples_per_class} generated features x {shape['unseen']} unseen classes)")
    netG.train()

    if args.sync_check and device.type == "cuda":
        torch.cuda.set_sync_debug_mode("error")
        try:
            step(netG, netD, optG, optD, data, inputs[warmup + iters], config)
            print("host syncs inside one step: none")
        except RuntimeError as err:
            print(f"host sync inside the step: {err}".splitlines()[0])
        finally:
            torch.cuda.set_sync_debug_mode("default")
    if args.profile:
        profile_iteration(step, (netG, netD, optG, optD, data, inputs[-1], config), device)
    if paired:
        print(f"efficiency, median of iterations paired with a GEMM measurement: {median(paired_ratios):.2f}; "
              f"in process CPU time: {median(cpu_ratios):.2f}")
    print(f"efficiency counting the reference without its zero-derivative GEMMs: "
          f"{efficiency * (ref_flops - zero_flops) / ref_flops:.2f}")
    print(f"efficiency={efficiency:.2f}")
    if args.impl == "fast" and not args.no_reference:
        del netG, netD, optG, optD  # the reference trains networks of its own
        reference = reference_seconds(shape, config.replace(bf16="off"), device, data, args.adam, args.seed, warmup,
                                      iters)
        print(f"reference step (float32, the plain formulation): best {reference:.4f} s over {iters} iterations; "
              f"fast step (bf16 {precision.setting}): best {best:.4f} s")
        print(f"speedup={reference / best:.2f}")


if __name__ == "__main__":
    main()
