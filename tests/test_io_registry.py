"""The reader registry ``geostl.io.READERS``: the contract every reader keeps, the docs table,
and the COBE-SST and ONI readers reached from a run config's ``data.sources``."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from geostl.io import READERS, ReaderOptionError, open_index, open_oni_table
from geostl.io.registry import REQUIRED, ReaderRegistry
from geostl.runconfig import SOURCE_FORMATS, ConfigError, open_sources

DOCS = Path(__file__).resolve().parents[1] / "docs" / "data.md"

#: real sample files (relative to the shared data folder) each format must claim
REAL_SAMPLES = {
    "ionex": [
        "tec/ionex/codg0090.20i.gz",
        "tec/ionex/igrg3380.10i.gz",
        "tec/ionex/uqrg1150.19i.gz",
    ],
    "omni2": ["space_weather/omni2_hourly/omni2_2011.dat.gz"],
    "celestrak": ["space_weather/celestrak_SW-All.txt.gz"],
    "index": [
        "sst/psl_nino34.long.anom.data.txt",
        "sst/cpc_ersst5.nino.mth.91-20.ascii",
        "sst/cpc_roni_1950-2026.csv",
    ],
    "netcdf": [
        "era5/era5_t2m_2019-03_uk_0.25deg_hourly.nc",
        "sst/ersst_v5_sst.mnmean_2010-01_2020-08.nc",
    ],
    "grib": ["era5/era5_t2m_2019-03_uk_0.25deg_hourly.grib"],
}
#: names in the real layouts that the tests generate (no sample file is shipped for these)
LAYOUT_NAMES = {
    "cobe": ["sst189101.grb", "sst202012.grb"],
    # the archives' own names (AIUB upper case, IGS long names from GPS week 2238)
    "ionex": [
        "CODG0080.20I.Z",
        "codg3360.20i.gz",
        "COD0OPSFIN_20223310000_01D_01H_GIM.INX.gz",
        "UPC0OPSRAP_20240010000_01D_15M_GIM.INX",
    ],
    "oni": ["ONI_NINO34_1854-2020.txt"],
    "taxibj": ["BJ13_M32x32_T30_InOut.h5", "BJ16_M32x32_T30_InOut.h5"],
    "iono_tfrecord": ["part-000.tfrecord"],
    "zarr": ["era5_t2m.zarr"],
    "weatherbench": ["weatherbench_5.625deg"],
    "kth": ["kth"],
    "human36m": ["human"],
    "kitticaltech": ["kitticaltech"],
}


def test_every_format_has_a_sample_name_and_the_config_spec_lists_the_registry() -> None:
    assert set(REAL_SAMPLES) | set(LAYOUT_NAMES) == set(READERS.names())
    assert SOURCE_FORMATS == READERS.names()
    assert {"cobe", "oni"} <= set(SOURCE_FORMATS)


@pytest.mark.parametrize("name", READERS.names())
def test_reader_contract(name: str) -> None:
    reader = READERS[name]
    params = list(inspect.signature(reader.function).parameters.values())
    declared = {
        p.name: REQUIRED if p.default is inspect.Parameter.empty else p.default
        for p in params[1:]
        if p.name not in reader.fixed
    }
    assert dict(reader.options) == declared
    assert set(reader.fixed) <= {p.name for p in params[1:]}
    assert reader.takes in ("files", "file", "folder")
    assert reader.description.strip() and "\n" not in reader.description
    assert reader.patterns
    for sample in LAYOUT_NAMES.get(name, []):
        assert reader.claims(sample), f"{name}: patterns {reader.patterns} miss {sample}"
        assert name in READERS.guess(Path("some") / "folder" / sample)


@pytest.mark.parametrize("name", sorted(REAL_SAMPLES))
def test_patterns_claim_the_real_samples(name: str, shared_data: Path) -> None:
    for rel in REAL_SAMPLES[name]:
        path = shared_data / rel
        assert path.is_file(), path
        assert name in READERS.guess(path), f"{name}: patterns {READERS[name].patterns} miss {rel}"


def test_guess_does_not_mix_the_enso_tables() -> None:
    assert READERS.guess("ONI_NINO34_1854-2020.txt") == ["oni"]
    assert READERS.guess("cpc_roni_1950-2026.csv") == ["index"]
    assert READERS.guess("sst202001.grb") == ["cobe", "grib"]
    assert READERS.guess("notes.md") == []


def test_registration_refuses_duplicates_and_bad_declarations() -> None:
    reg = ReaderRegistry()
    reg.register("oni", open_oni_table, takes="file", patterns=("x",), description="one line")
    with pytest.raises(ValueError, match=r"'oni' is already registered \(by geostl\.io\.oni"):
        reg.register("oni", open_index, takes="file", patterns=("x",), description="again")
    with pytest.raises(ValueError, match="takes must be one of files, file, folder"):
        reg.register("a", open_index, takes="dir", patterns=("x",), description="d")
    with pytest.raises(ValueError, match="description must be one non-empty line"):
        reg.register("b", open_index, takes="file", patterns=("x",), description="two\nlines")
    with pytest.raises(ValueError, match=r"fixed arguments \['format'\] are not parameters"):
        reg.register(
            "c", open_index, takes="file", patterns=("x",), description="d", fixed={"format": 1}
        )
    with pytest.raises(KeyError, match="unknown format 'hdf4'; known: oni"):
        reg.get("hdf4")


def test_read_checks_paths_and_options(tmp_path: Path) -> None:
    with pytest.raises(ReaderOptionError, match=r"format 'oni' reads one file, got 2"):
        READERS["oni"].read([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ReaderOptionError, match=r"src\.reader\.rms2: not an option of the 'ionex'"):
        READERS["ionex"].read([tmp_path / "a"], {"rms2": False}, "src.reader")
    with pytest.raises(
        ReaderOptionError, match=r"src\.reader\.variables: the 'weatherbench' reader"
    ):
        READERS["weatherbench"].read([tmp_path], {"years": [2017]}, "src.reader")


def test_docs_table_is_the_registry() -> None:
    text = DOCS.read_text()
    start = text.index("<!-- readers table:")
    start = text.index("\n", start) + 1
    end = text.index("<!-- end of readers table -->")
    assert text[start:end].strip() == READERS.markdown_table(), (
        "docs/data.md's readers table is stale: paste geostl.io.READERS.markdown_table()"
    )


def test_unknown_format_in_a_source_lists_the_registry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.sources\.x\.format.*cobe.*oni.*got 'hdf4'"):
        open_sources({"x": {"paths": "a.h4", "format": "hdf4"}}, tmp_path)


_ONI = """ONI and Nino 3.4 table (test copy of the layout)
Source: a note line

YEAR MON/MMM NINO34_MEAN CLIM_ANOM ONI PHASE
1891 1 25.69 -0.93 -99.99 L
1891 2 26.10 -0.81 -0.86 L
1891 3 26.92 -0.51 -0.41 N
1891 4 27.80 0.52 0.60 E
"""


def test_oni_table_from_a_run_config_source(tmp_path: Path) -> None:
    (tmp_path / "ONI_NINO34_1854-2020.txt").write_text(_ONI)
    sources = {"oni": {"paths": "ONI_NINO34_1854-2020.txt", "format": "oni"}}
    ds = open_sources(sources, tmp_path)["oni"]
    xr.testing.assert_identical(ds, open_oni_table(tmp_path / "ONI_NINO34_1854-2020.txt"))
    np.testing.assert_array_equal(ds["phase"].values, [1, 1, 2, 0])
    two = {"oni": {"paths": ["ONI_NINO34_1854-2020.txt"] * 2, "format": "oni"}}
    with pytest.raises(ConfigError, match=r"data\.sources\.oni: format 'oni' reads one file"):
        open_sources(two, tmp_path)
    with pytest.raises(ConfigError, match=r"data\.sources\.oni\.reader'.*only with the formats"):
        open_sources({"oni": {**sources["oni"], "reader": {"units": "K"}}}, tmp_path)


def test_cobe_sst_from_a_run_config_source(tmp_path: Path) -> None:
    pytest.importorskip("eccodes", reason="writing test GRIB files needs eccodes")
    pytest.importorskip("cfgrib", reason="reading GRIB needs cfgrib")
    from geostl.io import open_cobe_sst
    from test_io_enso_readers import _field, _write_month

    (tmp_path / "cobe").mkdir()
    _write_month(tmp_path / "cobe" / "sst202002.grb", 202002, _field(20.0))
    _write_month(tmp_path / "cobe" / "sst202001.grb", 202001, _field(10.0))
    sources = {"sst": {"paths": "cobe/sst*.grb", "format": "cobe"}}
    ds = open_sources(sources, tmp_path)["sst"]
    xr.testing.assert_identical(ds, open_cobe_sst(str(tmp_path / "cobe" / "sst*.grb")))
    assert ds["sst"].shape == (2, 3, 4) and ds["sst"].attrs["units"] == "degC"
    # the reader's own option from the entry: a stated unit that the values do not fit
    stated = {"sst": {**sources["sst"], "reader": {"units": "K"}}}
    with pytest.raises(ValueError, match=r"sst202001\.grb.*not SST in K"):
        open_sources(stated, tmp_path)
    bad = {"sst": {**sources["sst"], "reader": {"unit": "K"}}}
    with pytest.raises(ConfigError, match=r"data\.sources\.sst\.reader\.unit: not an option"):
        open_sources(bad, tmp_path)


def test_index_reader_option_from_a_run_config_source(shared_data: Path) -> None:
    rel = "sst/psl_nino34.long.anom.data.txt"
    entry = {"paths": rel, "format": "index", "reader": {"name": "anom"}}
    ds = open_sources({"nino": entry}, shared_data)["nino"]
    xr.testing.assert_identical(ds, open_index(shared_data / rel, name="anom"))
    assert list(ds.data_vars) == ["anom"]
