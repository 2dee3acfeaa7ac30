"""The results of gazsl.tune: experiments/results/tuning/<split>.md with its plots, and --best-config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from gazsl.generator import config as config_module
from gazsl.io import GazslError, atomic_path, data_error, read_utf8, write_json_atomic, write_text_atomic
from gazsl.protocols.cells import read_cell
from gazsl.tuning.study import Tuning, open_storage, safe_url, short_value, trial_counts
from gazsl.tuning.trials import SELECT_KEY

RESULTS_DIR = Path("experiments/results/tuning")


def best_config(path: Path, study, tuning: Tuning, configs_dir: Path) -> dict:
    """Write (or update) an experiment config with the best trial's settings and where they come from."""
    try:
        best = study.best_trial
    except ValueError:
        raise GazslError(f"--best-config: study '{study.study_name}' has no complete trial yet") from None
    if path.exists():
        try:
            cell = json.loads(read_utf8(path, "experiment config"))
        except json.JSONDecodeError as err:
            raise data_error(path, f"invalid JSON ({err.msg}); not overwritten", f"line {err.lineno}") from None
        if not isinstance(cell, dict) or cell.get("split") != tuning.split:
            raise data_error(path, f"exists and is not an experiment config of split '{tuning.split}'; not overwritten")
    else:
        base = read_cell(tuning.split, configs_dir)
        cell = {k: v for k, v in base.items() if k in ("split", "preset", "store", "overrides")}
        cell.setdefault("split", tuning.split)
        cell.setdefault("preset", tuning.preset)
    counts = trial_counts(study)
    entry = {"study": study.study_name, "storage": safe_url(tuning.storage_url),
             "trials": counts["complete"] + counts["pruned"] + counts["failed"], "best_trial": best.number,
             SELECT_KEY: best.value, "seed": tuning.config.seed, "params": best.params}
    cell["tuned"] = {**cell.get("tuned", {}), tuning.method: entry}
    if tuning.method == "gazsl":  # every field, so that the file means the same under any preset
        config = config_module.from_mapping(tuning.config, best.params, f"trial {best.number}")
        cell["overrides"] = {k: v for k, v in config.to_dict().items() if k != "device"}
    cell["note"] = "; ".join(f"{method}: tuned on validation classes by gazsl.tune, {e['trials']} trials, "
                             f"study {e['study']}" for method, e in cell["tuned"].items())
    write_json_atomic(path, cell)
    return cell


def plot_history(study, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    from optuna.trial import TrialState

    fig, ax = plt.subplots(figsize=(6, 3.8))
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED and t.value is not None]
    if complete:
        ax.scatter([t.number for t in complete], [t.value for t in complete], s=18, color="tab:blue", label="complete")
        best = np.maximum.accumulate([t.value for t in complete])
        ax.step([t.number for t in complete], best, where="post", color="tab:red", label="best so far")
    if pruned:
        ax.scatter([t.number for t in pruned], [t.value for t in pruned], s=18, marker="x", color="tab:gray",
                   label="pruned (at its last evaluation)")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set(xlabel="trial", ylabel="validation top-1 per class %", title=f"{study.study_name}: optimisation history")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def plot_importances(importances: dict[str, float], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(importances)[::-1]  # largest on top
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.3 * len(names)))
    ax.barh(names, [importances[n] for n in names], color="tab:blue")
    ax.set(xlabel="importance (fANOVA, share of the variance)", title=title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def importances_of(study) -> dict[str, float] | None:
    import optuna

    try:
        return optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError):  # fewer than two complete trials, or no setting that varied
        return None


def study_section(study, split: str, results_dir: Path) -> str:
    settings = study.user_attrs["settings"]
    counts = trial_counts(study)
    stem = f"{split}_" + re.sub(r"[^A-Za-z0-9_.-]", "_", study.study_name)
    lines = [f"## Study `{study.study_name}`: {settings['method']}", ""]
    if "command" in study.user_attrs:
        lines += [f"Trials last added by `{study.user_attrs['command']}`.", ""]
    ran = counts["complete"] + counts["pruned"] + counts["failed"]
    lines.append(f"{ran} trials: {counts['complete']} complete, {counts['pruned']} pruned, {counts['failed']} failed"
                 + (f", {counts['running']} running" if counts["running"] else "")
                 + (f" (and {counts['abandoned']} abandoned by a dead worker or surplus, not counted)"
                    if counts["abandoned"] else "") + f"; seed {settings['fixed']['seed']}"
                 + (f", at most {settings['fixed']['iterations']} iterations" if settings["method"] == "gazsl" else "")
                 + ".")
    if not counts["complete"]:
        return "\n".join(lines + ["", "No complete trial yet."])
    best = study.best_trial
    at = f" at iteration {best.user_attrs['iteration']}" if "iteration" in best.user_attrs else ""
    lines += ["", f"Best: trial {best.number}, validation top-1 per class **{best.value:.2f} %**{at}.", "",
              "| setting | searched | best trial |", "|---|---|---|"]
    space = settings["space"]
    for name, value in best.params.items():
        spec = space.get(name, {})
        searched = ("one of " + ", ".join(map(str, spec["choices"])) if "choices" in spec
                    else f"{spec.get('low')} .. {spec.get('high')}" + (", log" if spec.get("log") else ""))
        lines.append(f"| `{name}` | {searched} | {short_value(value)} |")
    plot_history(study, results_dir / f"{stem}_history.png")
    lines += ["", f"![optimisation history]({stem}_history.png)"]
    importances = importances_of(study)
    if importances:
        plot_importances(importances, f"{study.study_name}: parameter importances",
                         results_dir / f"{stem}_importance.png")
        lines.append(f"![parameter importances]({stem}_importance.png)")
        few = counts["complete"] < 2 * len(importances)  # a forest over fewer trials than that fits noise
        lines += ["", f"Importances (fANOVA over the {counts['complete']} complete trials"
                  + (f", too few for {len(importances)} settings: read them as noise" if few else "") + "): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in importances.items()) + "."]
    else:
        lines += ["", "Importances: none to compute (fewer than two complete trials, or all alike)."]
    return "\n".join(lines)


def write_summary(storage_url: str, split: str, results_dir: Path, command: str) -> Path:
    """experiments/results/tuning/<split>.md from every study of ``split`` on the storage (regenerated each time)."""
    import optuna

    storage = open_storage(storage_url)
    studies = [optuna.load_study(study_name=name, storage=storage) for name in optuna.get_all_study_names(storage)]
    studies = [s for s in studies if s.user_attrs.get("settings", {}).get("split") == split]
    path = results_dir / f"{split}.md"
    sections = [study_section(s, split, results_dir) for s in studies]
    write_text_atomic(path, (
        f"# Tuning on {split}\n\nRegenerated by:\n\n```bash\n{command}\n```\n\n"
        f"from the studies on `{safe_url(storage_url)}`. Each trial is the honest protocol's selection run "
        "(GAZSL) or fit (baselines): trained on the seen classes minus the validation classes and scored on the "
        "validation classes; its figure is validation top-1 per class (%), the one the honest protocol selects by. "
        "Trials never load unseen classes nor held-out images of the training classes, so these figures say nothing "
        "about the test: for test figures write the best trial as a config (`--best-config DIR/"
        f"{split}.json`) and run `python -m gazsl.reproduce --splits {split} --configs DIR`.\n\n"
        + "\n\n".join(sections) + "\n"))
    return path

