"""The probabilistic comparison of docs/probabilistic.md on the built-in TEC sample.

Trains ``configs/tec_convlstm.yaml`` (a fixed 12 epochs x 10 steps) with four seeds and once
with a Gaussian output trained on the CRPS, then scores on the test split, through
``geostl test``'s code path:

- ``seeds``: the four seed runs as a four-member ensemble (``ensemble_method: checkpoints``);
- ``perturbed``: seed 0 with 8 members from perturbed input maps (noise std 0.005 in the
  normalised units, i.e. 1 TECU under the TEC / 200 scaling);
- ``gaussian``: the Gaussian run's closed-form scores;

each beside the deterministic seed-0 model's MAE (the CRPS of one member) and the persistence
ensemble (the last 8 input maps held) and the sun-fixed persistence ensemble (the same maps
turned with the Sun). Prints the tables of docs/probabilistic.md and, with
``--figures``, writes the perturbed and Gaussian runs' figures there (256-colour PNGs).

Usage::

    python scripts/probabilistic_tec.py --runs runs/probabilistic --figures docs/figures
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from geostl.commands.run import test_checkpoint, train
from geostl.metrics import MetricTable
from geostl.runconfig import load_config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "tec_convlstm.yaml"
SEEDS = (0, 1, 2, 3)
SUN_ENSEMBLE = "sun-fixed persistence ensemble"
THRESHOLD = 20.0  # TECU: the sample (April 2019, solar minimum) rarely exceeds 30 TECU


def trained(runs: Path, name: str, overrides: list[str]) -> Path:
    """best.pt of one run, trained unless it already exists."""
    best = runs / name / "best.pt"
    if not best.exists():
        cfg = load_config([CONFIG], [f"run.dir={runs}", f"run.name={name}", *overrides])
        train(cfg, figures=False, quiet=True)
    return best


def scored(ckpt: Path, out: Path, overrides: list[str]) -> dict:
    """metrics.json of ``geostl test --ckpt CKPT --out OUT OVERRIDES``."""
    common = [f"eval.thresholds={{tec: [{THRESHOLD}]}}", "eval.baselines=[persistence, sun_fixed]"]
    test_checkpoint(ckpt, out, overrides=[*common, *overrides])
    return json.loads((out / "metrics.json").read_text())


def column(table: dict, metric: str) -> dict:
    t = MetricTable.from_dict(table)
    return {
        r["lead"]: r["value"] for r in t.select(metric=metric, channel="tec", weighting="lat").rows
    }


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/probabilistic"))
    parser.add_argument("--figures", type=Path, default=None)
    args = parser.parse_args()
    runs = args.runs
    seeds = [trained(runs, f"seed{s}", [f"train.seed={s}"]) for s in SEEDS]
    gauss = trained(runs, "gaussian", ["model.output=gaussian", "train.criterion=crps"])
    others = ",".join(str(p) for p in seeds[1:])
    results = {
        "seeds": scored(seeds[0], runs / "eval_seeds", [
            f"eval.ensemble_members={len(seeds)}", "eval.ensemble_method=checkpoints",
            f"eval.ensemble_checkpoints=[{others}]"]),
        "perturbed": scored(seeds[0], runs / "eval_perturbed", [
            "eval.ensemble_members=8", "eval.ensemble_perturb_std=0.005"]),
        "gaussian": scored(gauss, runs / "eval_gaussian", []),
    }  # fmt: skip
    det = results["seeds"]["tables"]
    prob = {k: v["probabilistic"] for k, v in results.items()}
    first = {
        "seeds": "model ensemble",
        "perturbed": "model ensemble",
        "gaussian": "model (Gaussian)",
    }
    cols = {
        "seed-0 model MAE": column(det["model"], "mae"),
        "4 seeds CRPS": column(prob["seeds"][first["seeds"]], "crps"),
        "8 perturbed CRPS": column(prob["perturbed"][first["perturbed"]], "crps"),
        "Gaussian CRPS": column(prob["gaussian"][first["gaussian"]], "crps"),
        "Gaussian-run MAE": column(results["gaussian"]["tables"]["model"], "mae"),
        "persistence ensemble CRPS": column(prob["seeds"]["persistence ensemble"], "crps"),
        "persistence MAE": column(det["persistence"], "mae"),
        "sun-fixed pers. ensemble CRPS": column(prob["seeds"][SUN_ENSEMBLE], "crps"),
        "sun-fixed persistence MAE": column(det["sun-fixed persistence"], "mae"),
    }
    leads = list(cols["seed-0 model MAE"])
    print("CRPS and MAE (TECU, cos-latitude weighted) on the test split\n")
    print(markdown(["lead", *cols], [[str(lead)] + [f"{c[lead]:.3f}" for c in cols.values()]
                                     for lead in leads]))  # fmt: skip
    ssr = {}
    for key, label in (
        ("seeds", "4 seeds"),
        ("perturbed", "8 perturbed"),
        ("gaussian", "Gaussian"),
    ):
        table = prob[key][first[key]]
        ssr[f"{label} spread"] = column(table, "spread")
        ssr[f"{label} spread/skill"] = column(table, "spread_skill")
    pe = prob["seeds"]["persistence ensemble"]
    ssr["persistence ens. spread/skill"] = column(pe, "spread_skill")
    ssr["sun-fixed pers. ens. spread/skill"] = column(prob["seeds"][SUN_ENSEMBLE], "spread_skill")
    print("\nSpread (TECU) and spread-skill ratio on the test split\n")
    print(markdown(["lead", *ssr], [[str(lead)] + [f"{c[lead]:.3f}" for c in ssr.values()]
                                    for lead in leads]))  # fmt: skip
    rest = {}
    for key, label in (
        ("seeds", "4 seeds"),
        ("perturbed", "8 perturbed"),
        ("gaussian", "Gaussian"),
    ):
        table = prob[key][first[key]]
        for metric in ("coverage_0.5", "coverage_0.9", f"brier_gt_{THRESHOLD:g}"):
            rest[f"{label} {metric}"] = column(table, metric)["all"]
    for metric in (
        "coverage_0.5",
        "coverage_0.9",
        f"brier_gt_{THRESHOLD:g}",
        f"freq_gt_{THRESHOLD:g}",
    ):
        rest[f"persistence ensemble {metric}"] = column(pe, metric)["all"]
        rest[f"sun-fixed persistence ensemble {metric}"] = column(
            prob["seeds"][SUN_ENSEMBLE], metric
        )["all"]
    print("\nPooled over every lead\n")
    print(markdown(["score", "value"], [[k, f"{v:.4f}"] for k, v in rest.items()]))
    if args.figures is not None:
        args.figures.mkdir(parents=True, exist_ok=True)
        for run, name in (("perturbed", "spread_skill"), ("gaussian", "spread_skill"),
                          ("gaussian", "spread_maps")):  # fmt: skip
            small_png(runs / f"eval_{run}" / f"{name}.png", args.figures / f"tec_{run}_{name}.png")


def small_png(source: Path, target: Path) -> None:
    """Copy a figure as a 256-colour PNG (a few times smaller, for the docs)."""
    from PIL import Image

    with Image.open(source) as im:
        im.convert("RGB").quantize(256).save(target, optimize=True)


if __name__ == "__main__":
    main()
