"""ForecastMetrics against float64 NumPy references and hand-worked examples."""

import math

import numpy as np
import pytest
import torch

from geostl.metrics import ForecastMetrics

CH = ["tec", "sst"]


def _random_case(seed=0, shape=(5, 3, 2, 6, 7)):
    rng = np.random.default_rng(seed)
    target = rng.normal(20.0, 4.0, shape)
    pred = target + rng.normal(0.5, 2.0, shape)
    clim = rng.normal(20.0, 1.0, shape[2:])  # (C, H, W)
    persistence = target + rng.normal(0.0, 3.0, shape)
    valid = rng.random(shape) > 0.25
    target[~valid] = np.nan  # missing data are NaN and masked
    area = rng.uniform(0.0, 1.0, shape[-2:]) * (rng.random(shape[-2:]) > 0.2)
    lat = np.linspace(-75.0, 75.0, shape[-2])
    return pred, target, valid, clim, persistence, area, lat


def _numpy_reference(pred, target, valid, clim, ref, area, lat, lat_weighted):
    """Per (lead, channel) and pooled-over-leads metrics with np.average / np.cov."""
    B, T, C, H, W = pred.shape
    w_full = np.broadcast_to(area, pred.shape).copy()
    if lat_weighted:
        w_full = w_full * np.cos(np.deg2rad(lat))[:, None]
    clim_full = np.broadcast_to(clim, pred.shape)
    out = {}
    for t in [*range(T), "all"]:
        ts = slice(None) if t == "all" else slice(t, t + 1)
        for c in range(C):
            m = valid[:, ts, c] & (area[None, None] > 0)
            w = w_full[:, ts, c][m]
            p, y, r = pred[:, ts, c][m], target[:, ts, c][m], ref[:, ts, c][m]
            a, b = p - clim_full[:, ts, c][m], y - clim_full[:, ts, c][m]
            mse = np.average((p - y) ** 2, weights=w)
            cov = np.cov(np.stack([a, b]), aweights=w, bias=True)
            out[(t, c)] = {
                "mse": mse,
                "rmse": math.sqrt(mse),
                "mae": np.average(np.abs(p - y), weights=w),
                "bias": np.average(p - y, weights=w),
                "acc": np.average(a * b, weights=w)
                / math.sqrt(np.average(a * a, weights=w) * np.average(b * b, weights=w)),
                "acc_centred": cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]),
                "skill_persistence": 1.0 - mse / np.average((r - y) ** 2, weights=w),
                "n_valid": m.sum(),
            }
    return out


def _update(fm, pred, target, valid, clim, ref, sl=slice(None)):
    fm.update(
        torch.from_numpy(pred[sl]).float(),
        torch.from_numpy(target[sl]).float(),
        torch.from_numpy(valid[sl]),
        climatology=torch.from_numpy(clim).float(),
        references={"persistence": torch.from_numpy(ref[sl]).float()},
    )


@pytest.mark.parametrize("lat_weighted", [False, True])
def test_all_quantities_match_numpy_reference(lat_weighted):
    pred, target, valid, clim, ref, area, lat = _random_case()
    # the library sees float32 inputs, as a model would produce
    p32, t32, c32, r32 = (
        x.astype(np.float32).astype(np.float64) for x in (pred, target, clim, ref)
    )
    leads = ["+1 h", "+2 h", "+3 h"]
    fm = ForecastMetrics(CH, leads, lat=lat, area_mask=torch.from_numpy(area))
    _update(fm, pred, target, valid, clim, ref)
    table = fm.compute()
    expected = _numpy_reference(p32, t32, valid, c32, r32, area, lat, lat_weighted)
    weighting = "lat" if lat_weighted else "plain"
    for (t, c), metrics in expected.items():
        lead = "all" if t == "all" else leads[t]
        for name, value in metrics.items():
            got = table.value(name, CH[c], lead, "count" if name == "n_valid" else weighting)
            np.testing.assert_allclose(got, value, rtol=1e-9, atol=1e-12, err_msg=f"{name} {t} {c}")


def test_split_into_updates_of_different_sizes_equals_one_update():
    pred, target, valid, clim, ref, area, lat = _random_case(seed=3)
    one = ForecastMetrics(CH, lat=lat, area_mask=area)
    _update(one, pred, target, valid, clim, ref)
    split = ForecastMetrics(CH, lat=lat, area_mask=area)
    for sl in (slice(0, 1), slice(1, 3), slice(3, 5)):
        _update(split, pred, target, valid, clim, ref, sl)
    merged = ForecastMetrics(CH, lat=lat, area_mask=area)
    part = ForecastMetrics(CH, lat=lat, area_mask=area)
    _update(merged, pred, target, valid, clim, ref, slice(0, 4))
    _update(part, pred, target, valid, clim, ref, slice(4, 5))
    merged.merge(part)
    ref_rows = one.compute().rows
    for other in (split, merged):
        rows = other.compute().rows
        assert [r["metric"] for r in rows] == [r["metric"] for r in ref_rows]
        np.testing.assert_allclose(
            [r["value"] for r in rows], [r["value"] for r in ref_rows], rtol=1e-12
        )


def test_hand_worked_2x2_one_masked_pixel_with_latitude_weights():
    """2 x 2 grid, lat = [0, 60] deg so cos(lat) = [1, 0.5]; pixel (1, 1) is masked (NaN).

    pred = [[1, 2], [3, 4]], target = [[1, 0], [2, NaN]], climatology = 0,
    reference forecast = [[1, 1], [1, 1]].
    Valid errors d = pred - target = [0, 2, 1]; anomalies a = [1, 2, 3], b = [1, 0, 2];
    reference errors [0, 1, -1].

    plain (weights 1, 1, 1; W = 3):
        MSE = (0 + 4 + 1) / 3 = 5/3, MAE = 3/3 = 1, bias = 1, RMSE = sqrt(5/3)
        ACC uncentred = sum(ab) / sqrt(sum(a^2) sum(b^2)) = 7 / sqrt(14 * 5) = 7 / sqrt(70)
        ACC centred: mean a = 2, mean b = 1, a' = [-1, 0, 1], b' = [0, -1, 1] -> 1 / sqrt(2 * 2)
        skill = 1 - 5 / 2 = -1.5
    lat (weights 1, 1, 0.5; W = 2.5):
        MSE = (0 + 4 + 0.5) / 2.5 = 1.8, MAE = (0 + 2 + 0.5) / 2.5 = 1.0, bias = 1.0
        ACC uncentred = (1 + 0 + 3) / sqrt((1 + 4 + 4.5) (1 + 0 + 2)) = 4 / sqrt(28.5)
        ACC centred: mean a = 4.5/2.5 = 1.8, mean b = 2/2.5 = 0.8,
            cov = 4/2.5 - 1.44 = 0.16, var a = 9.5/2.5 - 3.24 = 0.56, var b = 3/2.5 - 0.64 = 0.56
            -> 0.16 / 0.56 = 2/7
        skill = 1 - 4.5 / (0 + 1 + 0.5) = -2
    """
    pred = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 1, 2, 2)
    target = torch.tensor([[1.0, 0.0], [2.0, math.nan]]).reshape(1, 1, 1, 2, 2)
    fm = ForecastMetrics(["x"], ["+15 min"], lat=[0.0, 60.0])
    fm.update(
        pred,
        target,
        valid=~torch.isnan(target),
        climatology=torch.zeros(2, 2),
        references={"persistence": torch.ones_like(pred)},
    )
    t = fm.compute()
    expect = {
        "plain": dict(
            mse=5 / 3,
            mae=1.0,
            bias=1.0,
            rmse=math.sqrt(5 / 3),
            acc=7 / math.sqrt(70),
            acc_centred=0.5,
            skill_persistence=-1.5,
        ),
        "lat": dict(
            mse=1.8,
            mae=1.0,
            bias=1.0,
            rmse=math.sqrt(1.8),
            acc=4 / math.sqrt(28.5),
            acc_centred=2 / 7,
            skill_persistence=-2.0,
        ),
    }
    for weighting, values in expect.items():
        for name, value in values.items():
            for lead in ("+15 min", "all"):
                assert t.value(name, "x", lead, weighting) == pytest.approx(value, rel=1e-12)
    assert t.value("n_valid", "x", "+15 min", "count") == 3


def test_skill_against_an_exact_reference_is_undefined_and_the_table_is_strict_json(tmp_path):
    """A reference that matches the target at one lead (MSE 0) has no skill score there: NaN,
    not -inf, and the table writes as strict JSON (NaN as null) and reads back.

    Lead 1: pred - target = 1 everywhere, reference exact -> skill undefined.
    Lead 2: pred - target = 1, reference - target = 2 -> skill = 1 - 1 / 4 = 0.75.
    """
    target = torch.zeros(1, 2, 1, 2, 2)
    pred = target + 1.0
    ref = target.clone()
    ref[:, 1] = 2.0
    fm = ForecastMetrics(["x"], ["+1 h", "+2 h"])
    fm.update(pred, target, references={"persistence": ref})
    t = fm.compute()
    assert math.isnan(t.value("skill_persistence", "x", "+1 h", "plain"))
    assert t.value("skill_persistence", "x", "+2 h", "plain") == pytest.approx(0.75)
    assert t.value("skill_persistence", "x", "all", "plain") == pytest.approx(1 - 2 / 4)
    t.to_json(tmp_path / "m.json")
    back = type(t).from_json(tmp_path / "m.json")
    assert math.isnan(back.value("skill_persistence", "x", "+1 h", "plain"))
    assert back.value("skill_persistence", "x", "+2 h", "plain") == pytest.approx(0.75)


def test_an_infinite_value_survives_strict_json(tmp_path):
    """PSNR is +inf for an exactly matched frame: written as "inf", read back as inf."""
    from geostl.metrics.table import MetricTable

    rows = [{"metric": "psnr", "channel": "x", "lead": "+1 h", "weighting": "frame",
             "value": math.inf}]  # fmt: skip
    table = MetricTable(rows, {}, {}, {})
    table.to_json(tmp_path / "t.json")
    back = MetricTable.from_json(tmp_path / "t.json")
    assert back.value("psnr", "x", "+1 h", "frame") == math.inf


def test_hand_worked_area_mask():
    """area_mask = [[0, 1], [2, 1]] (float), everything valid, no lat.

    pred - target = [[10, 1], [2, 3]]; the pixel with area 0 does not count (NaN there is fine).
    MSE = (1*1 + 2*4 + 1*9) / (1 + 2 + 1) = 18 / 4 = 4.5; MAE = (1 + 4 + 3) / 4 = 2.
    """
    pred = torch.tensor([[math.nan, 1.0], [2.0, 3.0]]).reshape(1, 1, 1, 2, 2)
    target = torch.zeros(1, 1, 1, 2, 2)
    fm = ForecastMetrics(["x"], area_mask=torch.tensor([[0.0, 1.0], [2.0, 1.0]]))
    fm.update(pred, target)
    t = fm.compute()
    assert t.value("mse", "x", 1) == pytest.approx(4.5)
    assert t.value("mae", "x", 1) == pytest.approx(2.0)
    assert t.value("n_valid", "x", "all") == 3
    assert t.weightings("mse") == ["plain"]


def test_lead_all_pools_sums_over_leads():
    """Lead 1 has 1 valid value with error 2, lead 2 has 3 with error 0: pooled MSE = 4/4."""
    pred = torch.tensor([2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]).reshape(1, 2, 1, 2, 2)
    valid = torch.tensor([True, False, False, False, True, True, True, False]).reshape(pred.shape)
    fm = ForecastMetrics(["x"], [15, 30])
    fm.update(pred, torch.zeros_like(pred), valid)
    t = fm.compute()
    assert t.value("mse", "x", 15) == 4.0
    assert t.value("mse", "x", 30) == 0.0
    assert t.value("mse", "x", "all") == 1.0
    assert t.leads() == [15, 30, "all"]


def test_nan_where_valid_names_the_channel():
    pred = torch.zeros(2, 1, 2, 3, 3)
    target = torch.zeros(2, 1, 2, 3, 3)
    target[1, 0, 1, 2, 2] = math.nan
    fm = ForecastMetrics(CH)
    with pytest.raises(ValueError, match=r"target.*\['sst'\]"):
        fm.update(pred, target)
    pred[0, 0, 0, 0, 0] = math.inf
    with pytest.raises(ValueError, match=r"pred.*\['tec'\]"):
        fm.update(pred, torch.zeros_like(pred))
    clim = torch.zeros(2, 3, 3)
    clim[0, 1, 1] = math.nan
    zeros = torch.zeros_like(pred)
    with pytest.raises(ValueError, match=r"climatology.*\['tec'\]"):
        fm.update(zeros, zeros, climatology=clim)
    # rejected batches leave no trace: a later valid update starts clean
    fm.update(zeros, zeros)
    assert fm.compute().value("mse", "tec", 1) == 0.0
    assert fm.compute().value("n_valid", "tec", 1) == 18


def test_bad_arguments_are_rejected():
    x = torch.zeros(1, 2, 2, 3, 4)
    with pytest.raises(ValueError, match="channel_names"):
        ForecastMetrics(["a"]).update(x, x)
    with pytest.raises(ValueError, match="lead_times"):
        ForecastMetrics(CH, ["+1"]).update(x, x)
    with pytest.raises(ValueError, match="lat"):
        ForecastMetrics(CH, lat=[0.0, 1.0]).update(x, x)
    with pytest.raises(ValueError, match="lat_deg"):
        ForecastMetrics(CH, lat=[0.0, 100.0, 1.0])
    with pytest.raises(ValueError, match="target"):
        ForecastMetrics(CH).update(x, x[:, :1])
    with pytest.raises(ValueError, match="pred"):
        ForecastMetrics(CH).update(x[0], x[0])
    with pytest.raises(ValueError, match="valid"):
        ForecastMetrics(CH).update(x, x, valid=torch.ones_like(x))
    with pytest.raises(ValueError, match="data_range"):
        ForecastMetrics(CH, image_metrics=True, data_range={"tec": 1.0})
    with pytest.raises(RuntimeError, match="update"):
        ForecastMetrics(CH).compute()


def test_climatology_and_references_must_be_consistent_across_updates():
    x = torch.zeros(1, 2, 2, 3, 4)
    fm = ForecastMetrics(CH)
    fm.update(x, x, climatology=x, references={"persistence": x})
    with pytest.raises(ValueError, match="climatology"):
        fm.update(x, x, references={"persistence": x})
    with pytest.raises(ValueError, match="references"):
        fm.update(x, x, climatology=x, references={"clim": x})


def test_state_dict_roundtrip_gives_same_table():
    pred, target, valid, clim, ref, area, lat = _random_case(seed=5)
    fm = ForecastMetrics(CH, lat=lat)
    _update(fm, pred, target, valid, clim, ref)
    other = ForecastMetrics(CH, lat=lat)
    other.load_state_dict(fm.state_dict())
    assert other.compute().to_dict() == fm.compute().to_dict()


def test_image_metrics_are_averages_of_per_frame_values():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(7)
    shape = (3, 2, 2, 16, 18)
    target = rng.normal(280.0, 5.0, shape)
    pred = target + rng.normal(0.0, 1.0, shape)
    ranges = {"tec": 40.0, "sst": 25.0}
    fm = ForecastMetrics(CH, image_metrics=True, data_range=ranges)
    fm.update(torch.from_numpy(pred[:1]), torch.from_numpy(target[:1]))
    fm.update(torch.from_numpy(pred[1:]), torch.from_numpy(target[1:]))
    t = fm.compute()
    for c, name in enumerate(CH):
        R = ranges[name]
        s = [
            [
                structural_similarity(
                    pred[b, k, c],
                    target[b, k, c],
                    data_range=R,
                    gaussian_weights=True,
                    sigma=1.5,
                    use_sample_covariance=False,
                )
                for b in range(3)
            ]
            for k in range(2)
        ]
        p = [
            [
                peak_signal_noise_ratio(target[b, k, c], pred[b, k, c], data_range=R)
                for b in range(3)
            ]
            for k in range(2)
        ]
        for k in range(2):
            assert t.value("ssim", name, k + 1) == pytest.approx(np.mean(s[k]), abs=1e-10)
            assert t.value("psnr", name, k + 1) == pytest.approx(np.mean(p[k]), abs=1e-9)
        assert t.value("ssim", name, "all") == pytest.approx(np.mean(s), abs=1e-10)
        assert t.value("n_frames", name, "all") == 6
        assert t.value("n_frames_undefined", name, "all") == 0
    assert "average of per-frame" in t.notes["ssim"]


def test_valid_broadcasts_and_inputs_are_not_modified():
    pred, target, valid, clim, ref, area, lat = _random_case(seed=9)
    target = np.nan_to_num(target)
    grid_valid = valid[0, 0, 0]  # (H, W), the same for every sample, lead and channel
    p, t = torch.from_numpy(pred).clone(), torch.from_numpy(target).clone()
    fm = ForecastMetrics(CH)
    fm.update(p, t, torch.from_numpy(grid_valid))
    assert torch.equal(p, torch.from_numpy(pred)) and torch.equal(t, torch.from_numpy(target))
    full = ForecastMetrics(CH)
    full.update(p, t, torch.from_numpy(np.broadcast_to(grid_valid, pred.shape).copy()))
    assert fm.compute().to_dict() == full.compute().to_dict()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    pred, target, valid, clim, ref, area, lat = _random_case(seed=11)
    cpu = ForecastMetrics(
        CH, lat=lat, area_mask=area, image_metrics=True, data_range={"tec": 30.0, "sst": 30.0}
    )
    gpu = ForecastMetrics(
        CH, lat=lat, area_mask=area, image_metrics=True, data_range={"tec": 30.0, "sst": 30.0}
    )
    _update(cpu, pred, target, valid, clim, ref)
    args = [torch.from_numpy(x).float().cuda() for x in (pred, target, clim, ref)]
    gpu.update(
        args[0],
        args[1],
        torch.from_numpy(valid).cuda(),
        climatology=args[2],
        references={"persistence": args[3]},
    )
    a, b = cpu.compute(), gpu.compute()
    for r1, r2 in zip(a.rows, b.rows, strict=True):
        assert r1["metric"] == r2["metric"]
        np.testing.assert_allclose(r2["value"], r1["value"], rtol=1e-9, atol=1e-12)
