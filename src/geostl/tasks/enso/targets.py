"""ENSO targets: the Niño 3.4 index, the ONI and the El Niño / neutral / La Niña phase.

Two routes to the index:

- **from an index file** (:func:`targets_from_indices`): the CPC monthly Niño 3.4 SST and its
  anomaly (``geostl.datasets.sample("sst_indices")``, CPC ERSSTv5, 1991–2020 base), or any
  series :func:`geostl.io.open_index` reads;
- **from an SST field** (:func:`nino34_from_sst`), as Earthformer derives it from a forecast
  field: cos-latitude weighted mean over the Niño 3.4 box 5°S–5°N, 170°W–120°W (cells whose
  centres lie in the box, edges included), anomaly against a stated monthly climatology, then
  a 3-month running mean (:func:`running_mean`).

Phase rule (:func:`phase_from_oni`), NOAA CPC's ONI thresholds: El Niño where ONI ≥ +0.5 °C,
La Niña where ONI ≤ −0.5 °C, neutral otherwise. CPC calls a full El Niño / La Niña *episode*
only when the threshold holds for at least 5 consecutive overlapping seasons; ``min_run=5``
applies that rule, ``min_run=1`` (default) is the plain month-by-month threshold. Class codes
follow the seed's alphabetical factor order: 0 = E (El Niño), 1 = L (La Niña), 2 = N (neutral).

The ONI here is the centred 3-month running mean of the monthly Niño 3.4 anomaly of the file
(CPC's official ONI uses 30-year base periods that move every 5 years; a fixed-base series
such as the 1991–2020 one differs from it by a few hundredths of a degree in recent decades).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

NINO34_LAT = (-5.0, 5.0)
NINO34_LON = (190.0, 240.0)  # 170°W .. 120°W in 0..360 degrees east
PHASE_CODES = {"E": 0, "L": 1, "N": 2}


def running_mean(values: np.ndarray, window: int = 3, mode: str = "centred") -> np.ndarray:
    """Running mean along the last axis (float64).

    Args:
        values: (..., T) array; a NaN makes every window containing it NaN.
        window: number of months averaged.
        mode: ``"centred"`` keeps length T, NaN where the window is incomplete (odd windows
            only; month t averages t − w//2 .. t + w//2, like the ONI); ``"valid"`` returns
            T − window + 1 values, value j averaging j .. j + window − 1 (Earthformer's
            ``sst_to_nino`` on forecast leads).
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[-1]
    if window < 1 or window > n:
        raise ValueError(f"window must be in 1..{n} (length of the last axis), got {window}")
    kernel_sum = sum(x[..., k : n - window + 1 + k] for k in range(window))
    valid = kernel_sum / window
    if mode == "valid":
        return valid
    if mode != "centred":
        raise ValueError(f"mode must be 'centred' or 'valid', got {mode!r}")
    if window % 2 == 0:
        raise ValueError(f"a centred running mean needs an odd window, got {window}")
    out = np.full(x.shape, np.nan)
    half = window // 2
    out[..., half : n - half] = valid
    return out


def nino34_box_mean(sst: xr.DataArray) -> xr.DataArray:
    """Cos-latitude weighted mean SST over the Niño 3.4 box, per time step (float64, °C).

    Args:
        sst: (time, lat, lon) SST; longitudes in −180..180 or 0..360 degrees east.

    Raises:
        ValueError: no grid cell in the box, or a NaN (land / missing) inside it.
    """
    for dim in ("time", "lat", "lon"):
        if dim not in sst.dims:
            raise ValueError(f"SST field {sst.name!r} has no {dim!r} dim (dims {sst.dims})")
    lon360 = np.mod(sst["lon"].values.astype(np.float64), 360.0)
    lat = sst["lat"].values.astype(np.float64)
    in_lat = (lat >= NINO34_LAT[0]) & (lat <= NINO34_LAT[1])
    in_lon = (lon360 >= NINO34_LON[0]) & (lon360 <= NINO34_LON[1])
    if not in_lat.any() or not in_lon.any():
        raise ValueError(
            f"SST field {sst.name!r}: no grid cell centre inside the Nino 3.4 box "
            f"(lat {NINO34_LAT}, lon {NINO34_LON} degrees east)"
        )
    box = sst.isel(lat=np.flatnonzero(in_lat), lon=np.flatnonzero(in_lon)).astype(np.float64)
    if bool(box.isnull().any()):
        bad = box.isnull().any(("lat", "lon"))
        first = str(box["time"].values[bad.values][0])[:10]
        raise ValueError(
            f"SST field {sst.name!r}: NaN inside the Nino 3.4 box ({int(bad.sum())} time steps, "
            f"first {first}); the box is all ocean, so the field has missing values"
        )
    weights = xr.DataArray(np.cos(np.deg2rad(lat[in_lat])), dims="lat", coords={"lat": box.lat})
    mean = box.weighted(weights).mean(("lat", "lon"))
    mean.attrs = {"units": "degC", "long_name": "Nino 3.4 box mean SST (cos-lat weighted)"}
    return mean.rename("nino34")


def monthly_anomaly(series: xr.DataArray, base: tuple[str, str]) -> xr.DataArray:
    """Anomaly of a monthly series against its calendar-month means over ``base`` (inclusive).

    Raises:
        ValueError: a calendar month has no value in the base period.
    """
    ref = series.sel(time=slice(*base))
    clim = ref.groupby("time.month").mean()
    missing = sorted(set(range(1, 13)) - set(int(m) for m in clim["month"].values))
    if missing or bool(clim.isnull().any()):
        raise ValueError(
            f"series {series.name!r}: base period {base} has no value for calendar months "
            f"{missing or 'with NaN'}"
        )
    anom = series.groupby("time.month") - clim
    anom = anom.drop_vars("month")
    anom.attrs = {
        "units": series.attrs.get("units", "degC"),
        "long_name": f"{series.name} anomaly vs {base[0]}..{base[1]} monthly climatology",
    }
    return anom


def nino34_from_sst(sst: xr.DataArray, base: tuple[str, str], window: int = 3) -> xr.Dataset:
    """Niño 3.4 derived from an SST field (Earthformer's route; see module docstring).

    Args:
        sst: (time, lat, lon) monthly SST in °C.
        base: climatology period, e.g. ``("2010-01", "2019-12")``.
        window: running-mean length in months (centred).

    Returns:
        Dataset on ``time`` with ``nino34`` (box mean, °C), ``nino34_anom`` (°C) and
        ``nino34_rm`` (centred ``window``-month running mean of the anomaly, NaN at the ends).
    """
    box = nino34_box_mean(sst)
    anom = monthly_anomaly(box, base)
    rm = running_mean(anom.values, window, "centred")
    attrs = {"units": "degC", "long_name": f"{window}-month centred running mean anomaly"}
    return xr.Dataset(
        {"nino34": box, "nino34_anom": anom, "nino34_rm": ("time", rm, attrs)},
        attrs={"climatology": f"{base[0]}..{base[1]}"},
    )


def phase_from_oni(oni: np.ndarray, threshold: float = 0.5, min_run: int = 1) -> np.ndarray:
    """Phase codes (0 = E, 1 = L, 2 = N) from ONI values (°C), see the module docstring.

    Args:
        oni: (T,) consecutive monthly ONI values, no NaN.
        threshold: ±°C threshold (inclusive).
        min_run: minimum run of consecutive months beyond the threshold to count as a phase.
    """
    x = np.asarray(oni, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"ONI must be 1-D (months), got shape {x.shape}")
    if np.isnan(x).any():
        raise ValueError(f"ONI has NaN at positions {np.flatnonzero(np.isnan(x))[:5].tolist()}")
    phase = np.full(x.shape, PHASE_CODES["N"], dtype=np.int64)
    for code, beyond in ((PHASE_CODES["E"], x >= threshold), (PHASE_CODES["L"], x <= -threshold)):
        start = None
        for t in range(len(x) + 1):
            inside = t < len(x) and beyond[t]
            if inside and start is None:
                start = t
            elif not inside and start is not None:
                if t - start >= min_run:
                    phase[start:t] = code
                start = None
    return phase


def targets_from_indices(
    indices: xr.Dataset,
    index_var: str = "nino34_anom",
    threshold: float = 0.5,
    min_run: int = 1,
) -> xr.Dataset:
    """Monthly ENSO targets from an index dataset (e.g. ``sample("sst_indices")``).

    Args:
        indices: dataset on monthly ``time`` with the anomaly variable ``index_var`` (°C).
        index_var: the Niño 3.4 anomaly variable.
        threshold, min_run: phase rule of :func:`phase_from_oni`.

    Returns:
        Dataset on the months where the ONI is defined (first and last month dropped) with
        ``nino34_anom`` (°C), ``oni`` (°C, centred 3-month mean) and ``phase`` (int64 codes).
    """
    if index_var not in indices:
        raise KeyError(
            f"index dataset has no variable {index_var!r}; available: {sorted(indices.data_vars)}"
        )
    anom = indices[index_var].astype(np.float64)
    steps = np.diff(anom["time"].values.astype("datetime64[M]").astype(np.int64))
    if (steps != 1).any():
        raise ValueError(f"{index_var}: months are not consecutive (gaps in the time axis)")
    oni = running_mean(anom.values, 3, "centred")
    keep = slice(1, len(oni) - 1)
    oni_da = xr.DataArray(oni[keep], dims="time", coords={"time": anom["time"].values[keep]})
    phase = phase_from_oni(oni_da.values, threshold, min_run)
    return xr.Dataset(
        {
            "nino34_anom": anom.isel(time=keep),
            "oni": oni_da.assign_attrs(units="degC", long_name="ONI (centred 3-month mean)"),
            "phase": ("time", phase, {"codes": "0 = E (El Nino), 1 = L (La Nina), 2 = N"}),
        },
        attrs={"phase_rule": f"ONI >= {threshold}: E, <= -{threshold}: L, min_run {min_run}"},
    )
