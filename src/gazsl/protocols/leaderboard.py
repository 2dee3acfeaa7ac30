"""The leaderboard: every method and generator switch under the honest protocol (command: ``gazsl.leaderboard``).

Each split uses its experiment config (experiments/configs/<split>.json, as
``gazsl.reproduce``); a GAZSL training adds its overrides (``TRAININGS``) to it,
and every classifier (``METHODS``: kNN, pivot, softmax, and those fused with a
text-to-class-mean regression) is scored on the generators of that one training,
so that the classifier rows differ by the classifier alone. Plain GAZSL shares
its runs with ``gazsl.reproduce`` (runs/reproduce/<split>/honest/); the other
trainings and the baselines go under runs/reproduce/methods/<name>/. Finished
runs are reused. Writes experiments/results/leaderboard.md and leaderboard.json.

The baselines follow the same protocol as GAZSL (``gazsl.protocols.protocol``): their
hyper-parameters (gazsl.scoring.baselines.candidates) and GZSL calibration are chosen
on the validation classes, with a model fitted on the seen classes minus those;
the reported model is then refitted on every seen training image (held-out seen
images excluded) and scored once on the unseen classes (ZSL) and on held-out
seen + unseen images (GZSL: AUSUC of the exact curve, H at the chosen calibration).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazsl.scoring import baselines, methods as method_plugins
from gazsl.datasets.stores import open_store
from gazsl.io import GazslError, atomic_path, data_error, one_line, readable_path, write_json_atomic, write_text_atomic
from gazsl.generator.gan import generated_classifier
from gazsl.protocols.protocol import honest_baseline, scored_text
from gazsl.protocols.cells import CONFIG_DIR, RUNS_DIR, load_cell, read_cell, run_cell
from gazsl.protocols.tables import environments, mean_std, put_verdict

# Weights fixed a priori (nothing tuned here): the defaults of the authors' code,
# CIZSL's --creativity_weight 0.1 and CANZSL's --cyclelambda 10.
CREATIVITY = {"creativity_weight": 0.1}
CYCLE = {"cycle_weight": 10.0}
# Found on validation classes alone (experiments/validation_probe.py, 3 seeds): the best of the settings probed on
# cub100_easy (pivot classifier +1.4, fused +1.2 points of validation top-1), though not on cub100_hard (-3.0 / -0.3).
HEAVIER_PIVOT = {"pivot_weight": 3.0}
SWITCHES = ("creativity_weight", "cycle_weight")  # named by the term they switch on; other changes by field and value

# How GAZSL is trained, one run per (split, training, seed); every classifier is scored on that run's generators.
TRAININGS: dict[str, dict] = {"gazsl": {}, "gazsl_creativity": CREATIVITY, "gazsl_cycle": CYCLE,
                              "gazsl_pivot_weight3": HEAVIER_PIVOT}
CLASSIFIER_LABELS = {"knn": "kNN", "pivot": "pivot", "softmax": "softmax",
                     "pivot+regression": "pivot fused with regression", "softmax+regression": "softmax fused with regression"}


@dataclass
class Method:
    label: str
    baseline: str | None = None  # a gazsl.scoring.baselines.BASELINES key, or a plugin (gazsl.scoring.methods)
    training: str | None = None  # else GAZSL: a TRAININGS key, scored by ``classifier``
    classifier: str = "knn"
    chosen: bool = False  # the generator-based method with the best validation figure, per split and seed

    @property
    def run(self) -> str:
        """The run that makes this method's figures, shared by every classifier of one training."""
        return self.baseline or self.training


def _gazsl_methods() -> dict[str, Method]:
    methods = {}
    for training, overrides in TRAININGS.items():
        trained = " + ".join(["GAZSL", *(k.removesuffix("_weight") if k in SWITCHES else f"{k.replace('_', ' ')} {v:g}"
                                         for k, v in overrides.items())])
        for classifier, label in CLASSIFIER_LABELS.items():
            name = training + ("" if classifier == "knn" else "_" + classifier.replace("+", "_"))
            methods[name] = Method(f"{trained} ({label})", training=training, classifier=classifier)
    return methods


METHODS: dict[str, Method] = {
    "eszsl": Method("ESZSL", baseline="eszsl"),
    "prototype": Method("Prototype regression", baseline="prototype"),
    "wac_linear": Method("WAC-linear", baseline="wac_linear"),
    **_gazsl_methods(),
    "gazsl_chosen": Method("GAZSL, chosen on validation (any row above from a GAZSL training)", chosen=True),
}

def add_plugin(name: str) -> str:
    """Make the method plugin ``name`` (``package.module:Class`` or an entry point of ``gazsl.methods``) a row
    scored as the baselines are; returns its name. Known rows are left as they are."""
    if name not in METHODS:
        if not method_plugins.is_plugin(name):
            raise GazslError(f"unknown method '{name}' (the table's: {', '.join(METHODS)}; or a plugin, "
                             "package.module:Class)")
        METHODS[name] = Method(name, baseline=name)
    return name


FIGURES = [  # (metrics key, title, scale)
    ("zsl_top1", "ZSL top-1 % (per sample, unseen classes)", 1),
    ("ausuc", "GZSL AUSUC % (area under the seen-unseen curve of mean per-class accuracies)", 100),
    ("gzsl_h", "GZSL H % (of mean per-class accuracies, at the calibration chosen on validation classes)", 1),
    # what a user may choose a method by without touching unseen classes
    ("val_top1_per_class", "Validation top-1 % (per class, validation classes, at the setting they selected)", 1),
]


def method_runs(runs_dir: Path, run: str) -> Path:
    """Plain GAZSL is the reproduce table's honest run; the other trainings and the baselines get their own folder."""
    return runs_dir if run == "gazsl" else runs_dir / "methods" / run


def run_training(split: str, run: str, seed: int, runs_dir: Path = RUNS_DIR, config_dir: Path = CONFIG_DIR,
                 threads: int | None = None) -> dict:
    """Honest-protocol metrics of one (split, run, seed): a baseline, or a GAZSL training with every classifier
    scored; a ``gazsl.protocols.cells.run_cells`` runner."""
    if run in TRAININGS:
        return run_cell(split, "honest", seed, method_runs(runs_dir, run), config_dir, threads, TRAININGS[run])
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    with threadpool_limits(threads):  # numpy's BLAS: as many threads as the cell's share of the cores
        metrics = baseline_metrics(split, run, seed, config_dir)
    write_json_atomic(method_runs(runs_dir, run) / split / "honest" / f"seed{seed}" / "metrics.json", metrics)
    return metrics


def method_figures(method: str, run: dict) -> dict:
    """A method's figures from its run's metrics: a GAZSL method's classifier row of its training run."""
    spec = METHODS[method]
    if spec.baseline:
        return run
    return {**{k: run[k] for k in ("split", "seed", "protocol", "text", "config", "device", "device_name", "versions")},
            **run["by_classifier"][spec.classifier], "classifier": spec.classifier}


def choose_on_validation(results: dict[tuple, dict], splits: list[str], seeds: int,
                         methods: list[str]) -> dict[tuple, dict]:
    """Per split and seed, the figures of the GAZSL-trained method of ``methods`` with the best validation top-1 per
    class (the first listed if tied): the one choice rule of ``gazsl_chosen``."""
    candidates = [m for m in methods if METHODS[m].training]
    chosen = {}
    for split in splits:
        for seed in range(seeds):
            best = max(candidates, key=lambda m: results[(split, m, seed)]["val_top1_per_class"])
            chosen[(split, "gazsl_chosen", seed)] = {**results[(split, best, seed)], "chosen_method": best}
    return chosen


def seed_mean(results: dict[tuple, dict], split: str, method: str, key: str, seeds: int) -> float:
    """A figure of one method on one split, averaged over seeds 0..seeds-1."""
    return float(np.mean([results[(split, method, k)][key] for k in range(seeds)]))


def spearman(results: dict[tuple, dict], split: str, methods: list[str], seeds: int) -> float | None:
    """Spearman's rho, over ``methods``, between mean validation top-1 per class and mean test top-1 (per sample)."""
    from scipy.stats import spearmanr

    methods = [m for m in methods if not METHODS[m].chosen]
    if len(methods) < 3:
        return None
    val = [seed_mean(results, split, m, "val_top1_per_class", seeds) for m in methods]
    test = [seed_mean(results, split, m, "zsl_top1", seeds) for m in methods]
    return float(spearmanr(val, test).statistic)


def baseline_metrics(split_name: str, name: str, seed: int, config_dir: Path = CONFIG_DIR) -> dict:
    """A baseline under the honest protocol, on the split's store and text vectors (see the module docstring)."""
    _, config, store_path = load_cell(split_name, config_dir)
    store = open_store(split_name, store_path)
    # the grid's settings, or the one gazsl.tune chose on the same validation classes where the split's config holds it
    chosen = honest_baseline(name, scored_text(store, split_name, config.text), store, split_name, seed,
                             tuned_candidates(split_name, name, config_dir))
    final = chosen.final
    plugin = method_plugins.resolve(name)
    return {
        **({"plugin": plugin.record()} if not plugin.builtin else {}),
        "split": split_name, "seed": seed, "protocol": "honest", "method": name, "text": config.text,
        "gzsl_classifier": name,  # its own scores
        **{k: final[k] for k in ("zsl_top1", "zsl_top1_per_class", "ausuc", "gzsl_seen", "gzsl_unseen", "gzsl_h",
                                 "calibration")},
        "params": chosen.params, "val_top1_per_class": chosen.validation["val_top1_per_class"],
    }


def tuned_candidates(split: str, baseline: str, config_dir: Path) -> list[dict] | None:
    """[the setting gazsl.tune chose for ``baseline``] if the split's experiment config records one (--best-config)."""
    tuned = read_cell(split, config_dir).get("tuned", {}).get(baseline)
    if tuned is None:
        return None
    if not isinstance(tuned, dict) or not isinstance(tuned.get("params"), dict):
        raise GazslError(f"{config_dir / f'{split}.json'} [tuned/{baseline}]: expected an object with 'params', "
                         "as gazsl.tune --best-config writes")
    return [tuned["params"]]


GZSL_FIGURES = ("ausuc", "gzsl_h")


def short_label(method: str) -> str:
    """A method's label where the table's explanation of the chosen row does not fit (the verdict, the plots)."""
    return "GAZSL's row chosen on validation" if METHODS[method].chosen else METHODS[method].label


def honest_choice(results: dict[tuple, dict], split: str, methods: list[str], seeds: int) -> str:
    """The row the honest rule picks on ``split``: the best mean validation top-1 per class of all ``methods`` (the
    first listed if tied), as a user must choose without the unseen classes."""
    return max(methods, key=lambda m: seed_mean(results, split, m, "val_top1_per_class", seeds))


def tables(results: dict[tuple, dict], splits: list[str], methods: list[str], seeds: int) -> str:
    """One markdown table per figure: rows methods, columns splits, mean ± std over seeds; the honest rule's row in
    bold, the best mean of the figure (known only after seeing the test) marked †.

    A GZSL table names, per method, the classifier whose scores its figures calibrate.
    """
    honest = {s: honest_choice(results, s, methods, seeds) for s in splits}
    parts = []
    for key, title, scale in FIGURES:
        gzsl = key in GZSL_FIGURES
        means = {(m, s): np.mean([results[(s, m, k)][key] * scale for k in range(seeds)]) for m in methods for s in splits}
        best = {s: max(means[(m, s)] for m in methods) for s in splits}
        head = ["method", *(["GZSL classifier"] if gzsl else []), *splits]
        lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        for m in methods:
            cells = []
            if gzsl:
                cells.append(", ".join(sorted({results[(s, m, k)]["gzsl_classifier"] for s in splits for k in range(seeds)})))
            for s in splits:
                cell = mean_std([results[(s, m, k)][key] * scale for k in range(seeds)])
                cell = f"**{cell}**" if m == honest[s] else cell
                cells.append(f"{cell} {BEST_ON_TEST}" if means[(m, s)] == best[s] else cell)
            lines.append(f"| {METHODS[m].label} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


BEST_ON_TEST = "†"
LEGEND = (f"**Bold**: per split, the row the honest rule picks, the best mean validation top-1 per class of all rows "
          f"(chosen without any unseen class). {BEST_ON_TEST}: the best mean of the table's figure on the test, which "
          "only hindsight picks.")


def verdict(results: dict[tuple, dict], splits: list[str], methods: list[str], seeds: int, results_dir: Path,
            rows: str = "every row") -> str:
    """Three lines to read first: who wins under the honest rule, by how much GAZSL's rule-chosen row wins or loses
    against the best baseline, and the cross-validated benchmark's interval where ``results_dir`` holds one."""
    picked = []
    for split in splits:
        m = honest_choice(results, split, methods, seeds)
        picked.append(f"{split}: {short_label(m)} ({seed_mean(results, split, m, 'zsl_top1', seeds):.1f} % top-1)")
    lines = [f"**Verdict.** Chosen on validation classes (the honest rule, over {rows}): " + "; ".join(picked) + "."]
    gap = margins(results, splits, methods, seeds, brief=True)
    if gap:
        lines.append(gap)
    benchmark = results_dir / "benchmark.json"
    if benchmark.exists():
        lines.append(benchmark_verdict(benchmark))
    return "\n".join(f"{line}  " for line in lines)  # markdown line breaks: three lines, one paragraph


def benchmark_verdict(path: Path) -> str:
    """The cross-validated benchmark's pre-registered comparison, one interval per protocol (its claim's first)."""
    from gazsl.protocols.benchmark_table import interval

    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        rec = stored["design"]["recommended"]["method"]
        # the protocol the pre-registered claim is decided on first (the stored file sorts its keys)
        protocols = sorted(stored["protocols"], key=lambda protocol: protocol not in stored["design"]["claim"])
        cells = [f"{interval(s['versus_best_baseline'][rec])} ({protocol}{', the claim' if i == 0 else ''}, against "
                 f"{s['best_baseline']})" for i, (protocol, s) in enumerate((p, stored["protocols"][p]) for p in protocols)]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise data_error(path, f"unreadable benchmark results ({one_line(err, 120)}); rerun gazsl benchmark table") from None
    return (f"Cross-validated benchmark (`{path.with_suffix('.md').name}`, 95 % CI over folds of classes, "
            f"pre-registered): {rec} minus the best baseline, points of top-1: " + "; ".join(cells) + ".")


def made_on(results: dict[tuple, dict]) -> str:
    gazsl_runs = list({(s, METHODS[method].run, seed): m for (s, method, seed), m in results.items()
                       if METHODS[method].training}.values())  # one per training, not per classifier
    baselines_used = len(gazsl_runs) < len(results)
    return " ".join(([f"GAZSL cells made on: {environments(gazsl_runs)}."] if gazsl_runs else [])
                    + (["Baselines: numpy on the CPU."] if baselines_used else []))


def describe(methods: list[str], splits: list[str], config_dir: Path) -> str:
    notes = {s: read_cell(s, config_dir).get("note") for s in splits}
    lines = [f"- Config of `{s}`: {note}" for s, note in notes.items() if note]
    for m in methods:
        spec = METHODS[m]
        if spec.baseline and method_plugins.is_plugin(spec.baseline):
            plugin = method_plugins.resolve(spec.baseline)
            lines.append(f"- {spec.label}: a plugin, `{plugin.source}` version {plugin.version}, chosen on validation "
                         f"classes among {len(plugin.candidates())} settings of its param_grid")
        elif spec.baseline:
            grid = ", ".join(f"{k} in {list(v)}" for k, v in {**baselines.PARAM_GRIDS[spec.baseline],
                                                               "feature_norm": baselines.GRID_FEATURE_NORMS}.items())
            tuned = [s for s in splits if tuned_candidates(s, spec.baseline, config_dir)]
            lines.append(f"- {spec.label}: `gazsl.scoring.baselines`, chosen on validation classes among {grid}"
                         + (f"; on {', '.join(tuned)} the setting gazsl.tune chose there (see the config)" if tuned else ""))
        elif spec.training:
            settings = ", ".join(f"`{k}={v}`" for k, v in TRAININGS[spec.training].items()) or "the split's config as is"
            lines.append(f"- {spec.label}: {settings}, `classifier={spec.classifier}`; trained once with the other rows "
                         f"of `{spec.training}`")
        else:
            lines.append(f"- {spec.label}: per split and seed, the row of the table's GAZSL rows with the best "
                         "validation top-1 per class; its figures are that row's")
    return "\n".join(lines)


def margins(results: dict[tuple, dict], splits: list[str], methods: list[str], seeds: int, brief: bool = False) -> str:
    """The chosen GAZSL row's mean test top-1 against the best baseline's (by its mean test top-1, the strictest);
    ``brief``: the differences alone, for the verdict."""
    baselines_listed = [m for m in methods if METHODS[m].baseline]
    if "gazsl_chosen" not in methods or not baselines_listed:
        return ""
    parts = []
    for split in splits:
        mean = {m: seed_mean(results, split, m, "zsl_top1", seeds) for m in [*baselines_listed, "gazsl_chosen"]}
        best = max(baselines_listed, key=mean.get)
        if brief:
            parts.append(f"{split} {mean['gazsl_chosen'] - mean[best]:+.1f} ({METHODS[best].label})")
            continue
        picked = sorted({METHODS[results[(split, "gazsl_chosen", k)]["chosen_method"]].label for k in range(seeds)})
        parts.append(f"{split} {mean['gazsl_chosen'] - mean[best]:+.1f} ({mean['gazsl_chosen']:.1f} against "
                     f"{METHODS[best].label}'s {mean[best]:.1f}; rows chosen over the seeds: {'; '.join(picked)})")
    if brief:
        return ("GAZSL's row chosen on validation minus the best baseline on the test, points of top-1 (seeds' spread "
                "only: the tables' ±): " + "; ".join(parts) + ".")
    return ("Generator against baselines: mean test top-1 of the GAZSL row chosen on validation minus that of the "
            "baseline with the best mean test top-1: " + "; ".join(parts) + ".")


def fusion_ablation(results: dict[tuple, dict], splits: list[str], methods: list[str], seeds: int) -> str:
    """What fusing with the regression changes, one ablation per GAZSL training and base classifier in the table."""
    pairs = [(m, base) for m in methods if METHODS[m].training
             and generated_classifier(METHODS[m].classifier) != METHODS[m].classifier
             for base in methods if METHODS[base].training == METHODS[m].training
             and METHODS[base].classifier == generated_classifier(METHODS[m].classifier)]
    if not pairs:
        return ""

    def gain(m, base, split):
        return seed_mean(results, split, m, "zsl_top1", seeds) - seed_mean(results, split, base, "zsl_top1", seeds)

    rows = [f"{METHODS[base].label} -> fused: " + ", ".join(f"{s} {gain(m, base, s):+.1f}" for s in splits)
            for m, base in pairs]
    return ("The fused classifiers (`classifier=pivot+regression`, `softmax+regression`) add, image by image, the "
            "standardised scores of the classifier on generated features and of a ridge regression from text to "
            "class-mean features fitted on the same training images (weights 0.5 / 0.5, ridge alpha 1 on z-scored "
            "features, fixed a priori: `fusion_weight`, `regression_alpha`). The generator's class means and a linear "
            "least-squares map from the same text err differently, so adding their standardised scores can cancel "
            "part of each one's errors. Ablation, mean test top-1 of the fused classifier minus the same training's "
            "classifier alone (one training, so the difference is the fusion's alone): " + "; ".join(rows) + ".")


def rank_agreement(results: dict[tuple, dict], splits: list[str], methods: list[str], seeds: int,
                   results_dir: Path) -> str:
    """Spearman's rho per split; and, where experiments/validation_rule.py recorded them, the figures before the hard
    splits validated on whole families."""
    rhos = {s: spearman(results, s, methods, seeds) for s in splits}
    cells = ", ".join(f"{s} {rho:+.2f}" for s, rho in rhos.items() if rho is not None)
    text = ("Does validation rank methods as the test does? Spearman's rho between the mean validation top-1 per "
            f"class and the mean test top-1 of the methods in the table: {cells or 'n/a (fewer than 3 methods)'}.")
    recorded = results_dir / "validation_rule.json"
    if recorded.exists():
        try:
            before = json.loads(recorded.read_text(encoding="utf-8"))
            figures = {s: r["before"] for s, r in before["rho"].items() if s in splits}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise data_error(recorded, f"unreadable record of experiments/validation_rule.py ({one_line(err, 120)}); "
                             "delete it or rerun that experiment") from None
        if figures:
            text += (" With validation classes drawn at random from the seen classes instead of whole families, as "
                     f"before (`{before['command']}`, seeds 0..{before['seeds'] - 1}, "
                     "`experiments/results/validation_rule.md`): "
                     + ", ".join(f"{s} {rho:+.2f}" for s, rho in figures.items()) + ".")
    return text


def plot_top1(results: dict[tuple, dict], split: str, methods: list[str], seeds: int, path: Path) -> None:
    """Every method's test top-1 on ``split``, mean and ± std over seeds, baselines included; marked as the tables."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    honest = honest_choice(results, split, methods, seeds)
    top1 = {m: [results[(split, m, k)]["zsl_top1"] for k in range(seeds)] for m in methods}
    best = max(methods, key=lambda m: np.mean(top1[m]))
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(methods) + 1.4))
    for y, m in enumerate(methods):
        colour = "tab:orange" if METHODS[m].baseline else "tab:red" if METHODS[m].chosen else "tab:blue"
        ax.errorbar(np.mean(top1[m]), y, xerr=np.std(top1[m], ddof=1) if seeds > 1 else 0, fmt="o", color=colour,
                    capsize=2, ms=4)
    labels = [short_label(m) + (f" {BEST_ON_TEST}" if m == best else "") for m in methods]
    ax.set_yticks(range(len(methods)), labels, fontsize=7)
    for tick, m in zip(ax.get_yticklabels(), methods):
        tick.set_fontweight("bold" if m == honest else "normal")
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel(f"ZSL top-1 % (unseen classes), mean ± std over {seeds} seed{'s' * (seeds > 1)}", fontsize=8)
    fig.suptitle(f"{split}: orange baselines, blue GAZSL rows, red GAZSL's row chosen on validation;\n"
                 f"bold: the honest rule's pick (best validation), {BEST_ON_TEST}: best on the test", fontsize=8)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def write_tables(results: dict[tuple, dict], command: str, splits: list[str], methods: list[str], seeds: int,
                 results_dir: Path, config_dir: Path) -> str:
    """leaderboard.md, one top-1 plot per split (``<split>_top1.png``) and the verdict atop each split's own file, from
    the figures (``results``: (split, method, seed) -> figures); returns the tables."""
    text = tables(results, splits, methods, seeds)
    for split in splits:
        plot_top1(results, split, methods, seeds, results_dir / f"{split}_top1.png")
    refresh_split_verdicts(results, splits, methods, seeds, results_dir)
    write_text_atomic(results_dir / "leaderboard.md", (
        f"# Leaderboard: honest protocol\n\n{verdict(results, splits, methods, seeds, results_dir)}\n\n{LEGEND}\n\n"
        f"Made by:\n\n```bash\n{command}\n```\n\n"
        f"Mean ± std over seeds 0..{seeds - 1}; each split's experiment config (`experiments/configs/<split>.json`) "
        "plus the method's settings. Nothing is tuned on unseen classes: GAZSL's iteration count, the baselines' "
        "hyper-parameters and every GZSL calibration are chosen on validation classes (seen classes held out from "
        "training); GZSL seen accuracy is measured on held-out images of seen classes. GZSL figures average per-class "
        "accuracies, and their tables name the classifier whose scores they calibrate: a baseline's own scores; for "
        "GAZSL with kNN the pivot classifier (cosine to each class's mean generated feature), as kNN votes take too "
        "few values to calibrate. ESZSL and prototype "
        "regression are closed-form and WAC-linear is convex (its seed only moves L-BFGS's starting point), so "
        "their std over seeds is 0. Per-seed figures: `leaderboard.json`.\n\n"
        f"{made_on(results)}\n\n"
        f"{rank_agreement(results, splits, methods, seeds, results_dir)}\n\n"
        f"{margins(results, splits, methods, seeds)}\n\n"
        f"{fusion_ablation(results, splits, methods, seeds)}\n\n"
        f"{describe(methods, splits, config_dir)}\n\nTop-1 of every method per split, with its spread over seeds: "
        + ", ".join(f"`{split}_top1.png`" for split in splits) + f".\n\n{text}\n"))
    return text


SPLIT_VERDICT_ROWS = "every row of `leaderboard.md`"


def split_verdict(results_dir: Path, split: str) -> str | None:
    """The verdict atop a split's own result file (gazsl.reproduce's ``<split>.md``): the leaderboard's, for that split,
    from ``results_dir/leaderboard.json``; None where the leaderboard has not scored the split."""
    if not (results_dir / "leaderboard.json").exists():
        return None
    _, results, splits, methods, seeds = stored_results(results_dir)
    return verdict(results, [split], methods, seeds, results_dir, SPLIT_VERDICT_ROWS) if split in splits else None


def refresh_split_verdicts(results: dict[tuple, dict], splits: list[str], methods: list[str], seeds: int,
                           results_dir: Path) -> None:
    """Put the leaderboard's verdict atop each split's own result file that exists (where gazsl.reproduce writes it),
    so that the two files never tell different verdicts."""
    for split in splits:
        if (results_dir / f"{split}.md").exists():
            put_verdict(results_dir / f"{split}.md", verdict(results, [split], methods, seeds, results_dir,
                                                             SPLIT_VERDICT_ROWS))


def stored_results(results_dir: Path) -> tuple[str, dict[tuple, dict], list[str], list[str], int]:
    """(command, results, splits, methods, seeds) of the leaderboard.json in ``results_dir``, in the order it holds."""
    path = readable_path(results_dir / "leaderboard.json", "leaderboard figures")
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        results = {(c["split"], c["method"], c["seed"]): c for c in stored["cells"]}
        command = stored["command"]
    except (ValueError, KeyError, TypeError) as err:
        raise data_error(path, f"not a leaderboard.json written by gazsl.leaderboard ({one_line(err, 120)})") from None
    splits, rows = list(dict.fromkeys(k[0] for k in results)), list(dict.fromkeys(k[1] for k in results))
    for row in rows:  # a plugin's rows come back as the run that made them named them
        if row not in METHODS:
            add_plugin(row)
    return command, results, splits, rows, 1 + max(k[2] for k in results)
