"""Why the generator gains little from informative text: validation classes of the official splits only.

    python experiments/generator_diagnosis.py --splits cub100_easy cub100_hard --text descriptions_minilm \\
        --set pivot_weight=10,iterations=1200 --jobs 2
        # -> experiments/results/generator_diagnosis.md (+ .json)

Each setting (the split's experiment config, then with each ``--set``) is trained as the honest protocol's
selection run (``gazsl.protocols.protocol.build_runs``): on the seen classes minus the validation classes, scored
on the validation classes, each classifier stopping early on its own figure. Beside each classifier's validation
top-1, the trained generator is looked at on the validation classes, in the scaled feature space it generates in:

- ``cos``: cosine, after centring on the mean of the training classes' centroids, of each validation class's mean
  generated feature (200 draws) with its real centroid; the same for the ridge prototype (text -> class mean,
  fitted on the training classes in the same space, alpha = the config's ``regression_alpha``), the linear map
  that prototype regression learns.
- ``retrieval``: the share of validation classes whose mean generated feature (or prototype) lies nearest, among
  the validation classes' real centroids, to its own: a class-level top-1 that no sampling noise enters.
- ``spread``: mean distance between the validation classes' mean generated features (or prototypes) over that
  between their real centroids: far below 1, the text hardly moves what is generated.
- ``noise / text``: at the generator's first layer, the mean norm of the noise's contribution (W_z z) over that
  of the reduced text's (W_t t), at initialisation and after training: how much of a hidden unit's input the
  text decides.

Unseen classes and held-out images are never read, so nothing here says how a setting does on the test.
Runs are kept under runs/generator_diagnosis/ and reused.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from gazsl.generator import config as config_module
from gazsl.io import run_cli, write_json_atomic, write_text_atomic
from gazsl.protocols.cells import load_cell, run_cells
from gazsl.protocols.protocol import CLASSIFIERS, SELECT_KEY

RUNS = Path("runs/generator_diagnosis")
DRAWS = 200  # generated features per validation class for its mean


def first_layer_shares(model, text: np.ndarray, draws: int = 500) -> float:
    """Mean ||W_z z|| / mean ||W_t t|| at the generator's first layer, over ``draws`` noise vectors and the rows of
    ``text`` (the classes' text vectors)."""
    import torch

    g = model.generator_
    weight = g.main[0].weight.detach()  # (H, Z + R): the input is [z, reduced text]
    z_dim = g.noise_dim
    with torch.no_grad():
        reduced = g.reduce_text(torch.from_numpy(text).to(weight.device))  # (C, R)
        z = torch.randn(draws, z_dim, generator=torch.Generator().manual_seed(0)).to(weight.device)
        noise_part = (z @ weight[:, :z_dim].T).norm(dim=1).mean()
        text_part = (reduced @ weight[:, z_dim:].T).norm(dim=1).mean()
    return float(noise_part / text_part)


def ridge_prototypes(text_fit: np.ndarray, means_fit: np.ndarray, text_val: np.ndarray, alpha: float) -> np.ndarray:
    """Class means predicted from text by ridge regression (with intercept), fitted on the training classes."""
    t_mean, m_mean = text_fit.mean(axis=0), means_fit.mean(axis=0)
    a = text_fit - t_mean
    weights = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (means_fit - m_mean))
    return (text_val - t_mean) @ weights + m_mean


def geometry(estimates: np.ndarray, centroids: np.ndarray, origin: np.ndarray) -> dict:
    """How well ``estimates`` (C, D) stand for the real ``centroids`` (C, D) of the same classes."""
    e, c = estimates - origin, centroids - origin
    cos = np.sum(e * c, axis=1) / (np.linalg.norm(e, axis=1) * np.linalg.norm(c, axis=1))
    distances = np.linalg.norm(e[:, None, :] - c[None, :, :], axis=2)  # (C estimates, C centroids)
    pairs = np.triu_indices(len(c), 1)
    spread_e = np.linalg.norm(e[:, None] - e[None], axis=2)[pairs].mean()
    spread_c = np.linalg.norm(c[:, None] - c[None], axis=2)[pairs].mean()
    return {"cos": float(cos.mean()), "retrieval": float(100 * np.mean(distances.argmin(axis=1) == np.arange(len(c)))),
            "distance": float(np.diag(distances).mean() / spread_c), "spread": float(spread_e / spread_c)}


def diagnosis_run(split: str, setting_json: str, seed: int, text_key: str, runs_dir: Path, config_dir: Path,
                  threads: int | None = None) -> dict:
    """The record of one selection run with its geometry; a ``run_cells`` runner, reused when kept."""
    import torch

    from gazsl.generator.trainer import run_phase
    from gazsl.protocols.protocol import build_runs, honest_sets
    from gazsl.scoring import evaluate as ev
    from validation_probe import chosen_figures, prepared_selection  # experiments/validation_probe.py, beside this

    kept, preset, config, store, inputs = prepared_selection(split, setting_json, seed, runs_dir, config_dir, threads,
                                                             {"text": text_key})
    if kept.exists():
        return json.loads(kept.read_text(encoding="utf-8"))
    text = store.text(config.text).vectors
    run = build_runs(store, split, config, "honest")[0][0]
    selection, model = run.phase, run.model(config, text, store)
    sets = honest_sets(store, store.split(split))
    val, fit = sets.val_classes, sets.fit_classes
    shares_init = first_layer_shares(model, text[val])
    run_phase(selection, model)
    figures = chosen_figures(selection, config)

    scaled = model.normaliser_(store.features)

    def centroids(classes, images):
        x = torch.from_numpy(scaled[images])
        return ev.class_means(x, torch.from_numpy(np.searchsorted(classes, store.labels[images])), len(classes)).numpy()

    real_val, real_fit = centroids(val, sets.val_images), centroids(fit, sets.fit_images)
    fake, fake_labels, _ = model._generated(text[val], DRAWS)
    generated = ev.class_means(fake, fake_labels, len(val)).cpu().numpy()
    prototypes = ridge_prototypes(text[fit], real_fit, text[val], config.regression_alpha)
    origin = real_fit.mean(axis=0)
    record = {"split": split, "setting": json.loads(setting_json), "seed": seed, "text": text_key, "preset": preset,
              "config": config.to_dict(), "inputs_sha256": inputs, "device": str(model.device_),
              "device_name": torch.cuda.get_device_name() if model.device_.type == "cuda" else _cpu_name(),
              "torch": torch.__version__, "threads": torch.get_num_threads(), "iterations_run": model.n_iter_,
              "figures": figures, "generated": geometry(generated, real_val, origin),
              "prototype": geometry(prototypes, real_val, origin),
              "noise_over_text": {"init": shares_init, "trained": first_layer_shares(model, text[val])}}
    write_json_atomic(kept, record)
    return record


def baseline_validation(split: str, text_key: str, name: str = "prototype", seed: int = 0) -> float:
    """A baseline's best validation top-1 per class over its grid, fitted on the same training classes as the
    selection runs: the figure the generated-feature classifiers are set against (both chosen on these classes)."""
    from gazsl.datasets.stores import open_store
    from gazsl.protocols.protocol import baseline_maker, fit_on, honest_sets, validation_figures
    from gazsl.scoring import baselines

    store = open_store(split)
    text, split_ = store.text(text_key).vectors, store.split(split)
    sets = honest_sets(store, split_)
    make = baseline_maker(name, seed)
    return max(validation_figures(fit_on(make(params), text, store, sets.fit_classes, sets.fit_images), text, store,
                                  split_, sets)[SELECT_KEY] for params in baselines.candidates(name))


def _cpu_name() -> str:
    from gazsl.generator.precision import cpu_name

    return cpu_name()


def table(records: list[dict]) -> str:
    head = ("| split | setting | iterations run | " + " | ".join(f"{c} val top-1" for c in CLASSIFIERS)
            + " | cos gen / proto | retrieval gen / proto | spread gen / proto | noise/text init -> trained |")
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in records:
        name = ", ".join(f"{k}={v}" for k, v in r["setting"].items()) or "the experiment config"
        g, p, s = r["generated"], r["prototype"], r["noise_over_text"]
        lines.append(
            f"| {r['split']} | {name} | {r['iterations_run']} | "
            + " | ".join(f"{r['figures'][c][SELECT_KEY]:.1f} ({r['figures'][c]['iteration']})" for c in CLASSIFIERS)
            + f" | {g['cos']:.2f} / {p['cos']:.2f} | {g['retrieval']:.0f} / {p['retrieval']:.0f}"
            f" | {g['spread']:.2f} / {p['spread']:.2f} | {s['init']:.1f} -> {s['trained']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    from validation_probe import parse_probe_arguments, parse_setting  # experiments/validation_probe.py, beside this

    parser = argparse.ArgumentParser(prog="experiments/generator_diagnosis.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", nargs="+", default=["cub100_easy", "cub100_hard"])
    parser.add_argument("--text", default="descriptions_tfidf", help="the store's text the generator is conditioned on")
    args = parse_probe_arguments(parser, argv, seeds=1, runs=RUNS)
    settings = [{}] + [parse_setting(s, "--set") for s in args.settings]
    for split in args.splits:  # a bad field or value fails here, before any training
        _, base, _ = load_cell(split, args.configs)
        for setting in settings:
            config_module.from_mapping(base, setting, f"--set {','.join(f'{k}={v}' for k, v in setting.items())}")
    cells = [(split, json.dumps(s, sort_keys=True), seed, args.text)
             for split in args.splits for s in settings for seed in range(args.seeds)]
    runs = run_cells(cells, args.runs, args.configs, args.jobs, run=diagnosis_run)
    records = [runs[cell] for cell in cells]
    reference = {split: baseline_validation(split, args.text) for split in args.splits}
    made_on = sorted({f"{r['device_name']}, torch {r['torch']}, {r['threads']} thread(s)" for r in records})
    command = "python experiments/generator_diagnosis.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = "\n".join([
        "# Why the generator gains little from informative text (validation classes only)", "",
        f"Made by: `{command}`", "", __doc__.split("\n\n", 2)[2].split("Runs are kept")[0].strip(), "",
        f"Text: `{args.text}`. Seeds 0..{args.seeds - 1}, one row each. Each classifier's validation top-1 per "
        "class (%) with, in brackets, the iteration its early stopping chose.",
        f"Made on: {'; '.join(made_on)}.", "", table(records), "",
        "Prototype regression on the same validation classes (its grid, chosen on them as the iterations above are): "
        + ", ".join(f"{split} {figure:.1f}" for split, figure in reference.items()) + ".", "",
    ])
    write_text_atomic(args.results / "generator_diagnosis.md", text)
    write_json_atomic(args.results / "generator_diagnosis.json", {"command": command, "runs": records})
    print(text)
    return 0


if __name__ == "__main__":
    run_cli(main)
