"""configs/svq/: every WeatherBench run of the SVQ paper's README as a geostl run config.

Checked against things written down independently of the configs: the README's list of runs,
``geostl.tasks.weatherbench.sets.weatherbench_data_section`` for the data, OpenSTL's published
WeatherBench-S parameter counts for the SimVP translators, and the spec's SVQ parameter count
(MLP 4,224 + 1,290,000, codebook 320,000 for D 32, K 10,000, m 128).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

from geostl.models import build_forecaster
from geostl.runconfig import load_config
from geostl.tasks.weatherbench.sets import weatherbench_data_section, weatherbench_set

SVQ = Path(__file__).resolve().parents[1] / "configs" / "svq"
RUNS = sorted((SVQ / "weather").rglob("*.yaml"))
HAS_VQ = importlib.util.find_spec("vector_quantize_pytorch") is not None

# The README's WeatherBench commands (configs/weather/<dataname>/<file>.py), in its order.
README_WEATHER_RUNS = [
    "t2m_5_625/SimVPVQ_gSTA_learnable",
    "t2m_5_625/SimVPVQ_gSTA_frozen",
    "r_5_625/SimVPVQ_Swin_learnable",
    "r_5_625/SimVPVQ_Swin_frozen",
    "uv10_5_625/SimVPVQ_Swin_learnable",
    "uv10_5_625/SimVPVQ_Swin_frozen",
    "tcc_5_625/SimVPVQ_gSTA_learnable",
    "tcc_5_625/SimVPVQ_gSTA_frozen",
    "mv_4_s6_5_625/SimVPVQ_MogaNet_learnable",
    "mv_4_s6_5_625/SimVPVQ_MogaNet_frozen",
    "hmv_4_s6_5_625/SimVPVQ_gSTA_learnable",
    "hmv_4_s6_5_625/SimVPVQ_gSTA_frozen",
    "hmv_4_s6_5_625/SimVP_gSTA",
    *(
        f"t2m_5_625/ablation_modeltype/SimVPVQ_{m}"
        for m in (
            "ConvMixer ConvNeXt HorNet IncepU MLPMixer MogaNet Poolformer Swin Uniformer VAN ViT"
        ).split()
    ),
    "t2m_5_625/ablation_noise/SVQ-0.1",
    "t2m_5_625/ablation_noise/raw-0.1",
    *(
        f"t2m_5_625/ablation_vq/{v}"
        for v in "GroupedResidualVQ LFQ MultiHeadVQ ResidualFSQ ResidualLFQ ResidualVQ VQ".split()
    ),
    "t2m_5_625/ablation_appendix/freeze_projection",
    "t2m_5_625/ablation_appendix/freeze_both",
    "t2m_5_625/ablation_appendix/SimVPVQ_gSTA_learnable_postvq",
]

# OpenSTL weather_benchmarks.md, WeatherBench-S t2m (1×32×64, hid_S 32, hid_T 256, N_S 2, N_T 8),
# SimVP with each translator, millions of parameters.
OPENSTL_T2M_PARAMS = {
    "IncepU": 14.67,
    "gSTA": 12.76,
    "vit": 12.41,
    "swin": 12.42,
    "uniformer": 12.02,
    "mlp": 11.10,
    "convmixer": 1.13,
    "poolformer": 9.98,
    "convnext": 10.09,
    "van": 12.15,
    "hornet": 12.42,
    "moga": 12.76,
}
SVQ_MLP = 4_224 + 1_290_000  # D 32 -> m 128 -> K 10,000 (weights and biases)
SVQ_CODEBOOK = 320_000  # K 10,000 x D 32


def _rel(path: Path) -> str:
    return str(path.relative_to(SVQ / "weather").with_suffix(""))


def _meta(cfg: dict) -> dict:
    wb = weatherbench_set(cfg["data"]["sources"]["wb"]["weatherbench"]["set"])
    return {
        "t_in": wb.t_in,
        "t_out": wb.t_out,
        "target_channels": len(wb.channels),
        "forcing_channels": 0,
        "static_channels": 0,
        "height": 32,
        "width": 64,
        "lon": [5.625 * k for k in range(64)],
        "time_step_hours": float(wb.step_hours),
    }


def test_every_weatherbench_run_of_the_readme_has_a_config() -> None:
    have = {_rel(p) for p in RUNS}
    missing = [r for r in README_WEATHER_RUNS if r not in have]
    assert not missing, f"configs/svq/weather lacks {missing}"
    listed = _readme_paths((SVQ / "README.md").read_text())
    for path in RUNS:
        rel = path.relative_to(SVQ / "weather").as_posix()
        assert rel in listed, f"configs/svq/README.md does not list {rel}"


def _expand(text: str) -> list[str]:
    """``a/{b,c}.yaml`` -> ``["a/b.yaml", "a/c.yaml"]`` (nested and repeated braces)."""
    m = re.search(r"\{([^{}]*)\}", text)
    if m is None:
        return [text]
    return [
        out
        for choice in m.group(1).split(",")
        for out in _expand(text[: m.start()] + choice + text[m.end() :])
    ]


def _readme_paths(readme: str) -> set[str]:
    """Every ``.yaml`` path the README names in backticks, braces expanded; a bare file name
    in a row counts under the folder named first in that row."""
    found: set[str] = set()
    for line in readme.splitlines():
        names = [n for t in re.findall(r"`([^`]+\.yaml)`", line) for n in _expand(t)]
        folder = next((n.rsplit("/", 1)[0] for n in names if "/" in n), "")
        found |= {n if "/" in n else f"{folder}/{n}" for n in names}
    return found


@pytest.mark.parametrize("path", RUNS, ids=_rel)
def test_config_loads_with_the_weatherbench_data_of_its_set(path: Path) -> None:
    cfg = load_config([path])
    entry = cfg["data"]["sources"]["wb"]
    name = entry["weatherbench"]["set"]
    assert _rel(path).split("/")[0].startswith(name.replace("_4_4", "_4").split("_s6")[0])
    expected = weatherbench_data_section(name, entry["paths"])
    for key in ("schema", "splits", "window", "normalisation"):
        assert cfg["data"][key] == expected[key], key
    assert entry == expected["sources"]["wb"]
    assert cfg["run"]["name"] == path.stem
    assert cfg["run"]["dir"].startswith("runs/svq/weather_")


@pytest.mark.parametrize("path", RUNS, ids=_rel)
def test_config_builds_its_model_with_the_published_size(path: Path) -> None:
    cfg = load_config([path])
    backbone = cfg["model"]["backbone"]
    quantiser = backbone.get("quantiser") or {}
    if quantiser.get("name") == "library_vq" and not HAS_VQ:
        pytest.skip("needs the vq extra (vector-quantize-pytorch)")
    torch.manual_seed(0)
    model = build_forecaster(cfg["model"], _meta(cfg))
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    q = model.backbone.quantiser
    q_params = 0 if q is None else sum(p.numel() for p in q.parameters() if p.requires_grad)
    if quantiser.get("name") == "svq" and quantiser["codebook_size"] == 10_000:
        learnt = (0 if quantiser.get("freeze_projection") else SVQ_MLP) + (
            0 if quantiser.get("freeze_codebook") else SVQ_CODEBOOK
        )
        assert q_params == learnt
    if _rel(path).startswith("t2m_5_625") and backbone["model_type"] in OPENSTL_T2M_PARAMS:
        published = OPENSTL_T2M_PARAMS[backbone["model_type"]] * 1e6
        assert abs((total - q_params) / published - 1) < 0.01


def test_the_mv_frozen_file_keeps_the_seeds_settings_and_the_promised_run_is_beside_it():
    as_written = load_config([SVQ / "weather/mv_4_s6_5_625/SimVPVQ_MogaNet_frozen.yaml"])
    promised = load_config([SVQ / "weather/mv_4_s6_5_625/frozen_codebook.yaml"])
    a, b = as_written["model"]["backbone"], promised["model"]["backbone"]
    assert (a["post_vq"], a["quantiser"]["freeze_codebook"]) == (True, False)
    assert (b["post_vq"], b["quantiser"]["freeze_codebook"]) == (False, True)


@pytest.mark.slow
def test_the_t2m_learnable_config_trains_and_tests_on_a_weatherbench_folder(tmp_path) -> None:
    """The seed's t2m SVQ run (K 10,000 codes, MAE loss, cosine with warm-up epochs) with a
    narrower translator, six steps, on files in the real layout: the first 48 hours of each
    year 2010-2018 (validation: 5 windows of 2016; test: 2018 only)."""
    from geostl.commands.run import train
    from weatherbench_files import write_weatherbench

    write_weatherbench(tmp_path / "wb", ["t2m"], range(2010, 2019), hours=48)
    cfg = load_config(
        [SVQ / "weather/t2m_5_625/SimVPVQ_gSTA_learnable.yaml"],
        [
            f"data.sources.wb.paths={tmp_path / 'wb'}",
            f"run.dir={tmp_path / 'runs'}",
            "train.epochs=6",  # the config's 5 warm-up epochs, then one step of cosine decay
            "train.max_steps_per_epoch=1",
            "train.batch_size=2",
            "model.backbone.hid_T=32",
            "model.backbone.N_T=2",
            "model.backbone.quantiser.factorised=true",  # same maths, no K-wide weights
            "train.val_batch_size=4",
            "eval.batch_size=4",
            "eval.codebook_usage=false",
            "data.splits.val.end=2016-01-02T04:00",  # 5 windows
            "data.splits.test.start=2018-01-01T00:00",
            "train.device=cpu",
            "eval.baselines=[persistence]",
        ],
    )
    out = train(cfg, progress=False, figures=False)
    metrics = json.loads((out / "metrics.json").read_text())
    rmse = metrics["tables"]["model"]
    assert out.name == "SimVPVQ_gSTA_learnable"
    assert (out / "best.pt").is_file()
    assert cfg["train"]["warmup_epochs"] == 5 and cfg["train"]["criterion"] == "mae"
    assert "rmse" in json.dumps(rmse)
