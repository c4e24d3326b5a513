"""``geostl fetch`` against a local archive on the loopback interface (nothing leaves the machine).

The archive serves the real folder layouts and file names of AIUB (CODE) and CDDIS. Its files
are IONEX days built from the real UQRG sample maps in the repository (four maps a day, written
by ``write_ionex``, compressed as the archive does: unix ``compress`` before 2020-12-01 on
CDDIS and always for AIUB's short names, gzip for the long IGS names), their epochs set to the
days the names stand for.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from archive_server import ArchiveServer
from geostl.archives import fetch, plan
from geostl.archives.download import netrc_credentials
from geostl.cli import main
from geostl.datasets import sample
from geostl.io import open_ionex, write_ionex
from lzw_encoder import compress_lzw


@pytest.fixture(scope="module")
def real_maps() -> xr.DataArray:
    """Four real UQRG maps (00, 06, 12, 18 UT of 2019-04-25), TECU."""
    tec = sample("tec")["tec"]
    return tec.sel(time=[np.datetime64(f"2019-04-25T{h:02d}:00") for h in (0, 6, 12, 18)]).load()


def _day_file(maps: xr.DataArray, day: dt.date, name: str, tmp: Path) -> tuple[bytes, xr.DataArray]:
    """The bytes of an IONEX file named ``name`` holding ``maps`` moved to ``day``."""
    shift = np.datetime64(day.isoformat()) - maps["time"].values[0].astype("datetime64[D]")
    moved = maps.assign_coords(time=maps["time"].values + shift)
    plain = tmp / (name + ".txt")
    write_ionex(moved, plain)
    text = plain.read_bytes()
    if name.endswith(".Z"):
        return compress_lzw(text), moved
    if name.endswith(".gz"):
        return gzip.compress(text, mtime=0), moved
    return text, moved


@pytest.fixture(scope="module")
def archive(real_maps: xr.DataArray, tmp_path_factory: pytest.TempPathFactory):
    """``(files, maps)``: the served files by URL path and the maps each day file holds."""
    tmp = tmp_path_factory.mktemp("archive")
    files: dict[str, bytes] = {}
    maps: dict[str, xr.DataArray] = {}
    base = "http://archive/"  # the paths below the archive's base URL
    for item in plan(["code-final"], "2022-11-25", "2022-11-28", base_url=base) + plan(
        ["cddis-codg"], "2020-11-30", "2020-12-02", base_url=base
    ):
        day = dt.date.fromisoformat(item.key)
        data, moved = _day_file(real_maps, day, item.name, tmp)
        path = "/" + item.url.removeprefix(base)
        files[path] = data
        maps[f"{item.product}/{item.key}"] = moved
    # CDDIS publishes MD5SUMS in each day folder
    for doy in ("335", "336", "337"):
        folder = f"/gnss/products/ionex/2020/{doy}/"
        lines = [
            f"{hashlib.md5(v).hexdigest()}  {k.rsplit('/', 1)[1]}"
            for k, v in files.items()
            if k.startswith(folder)
        ]
        files[folder + "MD5SUMS"] = ("\n".join(lines) + "\n").encode()
    return files, maps


def _serve(files: dict[str, bytes], **kw) -> ArchiveServer:
    return ArchiveServer(dict(files), **kw)


def _base(server: ArchiveServer) -> str:
    return server.url


def test_fetch_a_range_across_both_naming_eras(archive, tmp_path: Path) -> None:
    files, maps = archive
    with _serve(files) as server:
        report = fetch(["code-final"], "2022-11-25", "2022-11-28", data_dir=tmp_path,
                       base_url=_base(server), jobs=2)  # fmt: skip
    assert report.ok() and len(report.downloaded) == 4
    names = sorted(p.name for p in report.files)
    assert names == [
        "COD0OPSFIN_20223310000_01D_01H_GIM.INX.gz",
        "COD0OPSFIN_20223320000_01D_01H_GIM.INX.gz",
        "CODG3290.22I.Z",
        "CODG3300.22I.Z",
    ]
    assert all(p.parent == tmp_path / "code-final" / "2022" for p in report.files)
    assert not list(tmp_path.rglob("*.part"))
    # the files read back to the served maps (IONEX stores 0.1 TECU)
    for item, path in zip(report.items, report.files, strict=True):
        got = open_ionex(path)["tec"]
        want = maps[f"code-final/{item.key}"]
        np.testing.assert_array_equal(got["time"].values, want["time"].values)
        np.testing.assert_allclose(got.values, want.values, atol=0.051)
    # a second call finds them in the cache and downloads nothing
    with _serve(files) as server:
        again = fetch(["code-final"], "2022-11-25", "2022-11-28", data_dir=tmp_path,
                      base_url=_base(server))  # fmt: skip
        assert len(again.cached) == 4 and not again.downloaded
        assert server.log == []


def test_resume_after_the_server_drops_the_connection(archive, tmp_path: Path) -> None:
    files, _ = archive
    path = "/CODE/2022/COD0OPSFIN_20223310000_01D_01H_GIM.INX.gz"
    with _serve(files, drop_once={path}) as server:
        report = fetch(["code-final"], "2022-11-27", "2022-11-27", data_dir=tmp_path,
                       base_url=_base(server), retries=2)  # fmt: skip
        reqs = server.requests_for(path)
    assert report.ok(), report.summary()
    assert report.files[0].read_bytes() == files[path]
    assert [r.range for r in reqs] == [None, f"bytes={len(files[path]) // 2}-"]


def test_resume_a_part_file_left_by_an_interrupted_run(archive, tmp_path: Path) -> None:
    files, _ = archive
    path = "/CODE/2022/CODG3300.22I.Z"
    dest = tmp_path / "code-final" / "2022" / "CODG3300.22I.Z"
    dest.parent.mkdir(parents=True)
    (dest.parent / (dest.name + ".part")).write_bytes(files[path][:1000])
    with _serve(files) as server:
        report = fetch(["code-final"], "2022-11-26", "2022-11-26", data_dir=tmp_path,
                       base_url=_base(server))  # fmt: skip
        reqs = server.requests_for(path)
    assert report.ok() and dest.read_bytes() == files[path]
    assert [r.range for r in reqs] == ["bytes=1000-"]


def test_a_corrupted_file_is_caught_by_its_md5sum(archive, tmp_path: Path) -> None:
    files, _ = archive
    bad = dict(files)
    path = "/gnss/products/ionex/2020/336/codg3360.20i.gz"
    data = bytearray(bad[path])
    data[len(data) // 2] ^= 0x01  # one flipped bit inside the compressed stream
    bad[path] = bytes(data)
    with _serve(bad) as server:
        report = fetch(["cddis-codg"], "2020-11-30", "2020-12-02", data_dir=tmp_path,
                       base_url=_base(server))  # fmt: skip
    assert sorted(i.key for i in report.downloaded) == ["2020-11-30", "2020-12-02"]
    ((item, reason),) = report.failed
    assert item.key == "2020-12-01" and "md5 checksum mismatch" in reason
    assert "MD5SUMS" in reason
    # nothing of the bad file is left under its name or as a part file
    assert not (tmp_path / item.path).exists()
    assert not list(tmp_path.rglob("*.part"))
    # the era switch of CDDIS: .Z before 2020-12-01, .gz from then
    assert sorted(p.name for p in report.files) == ["codg3350.20i.Z", "codg3370.20i.gz"]


def test_an_html_page_under_the_file_name_is_refused(archive, tmp_path: Path) -> None:
    files, _ = archive
    page = dict(files)
    page["/CODE/2022/CODG3290.22I.Z"] = b"<!DOCTYPE html><html><body>Log in</body></html>"
    with _serve(page) as server:
        report = fetch(["code-final"], "2022-11-25", "2022-11-25", data_dir=tmp_path,
                       base_url=_base(server))  # fmt: skip
    ((item, reason),) = report.failed
    assert "HTML page" in reason


def test_a_missing_day_is_reported_and_fails_the_command(archive, tmp_path: Path, capsys) -> None:
    files, _ = archive
    gap = {k: v for k, v in files.items() if "CODG3300" not in k}
    with _serve(gap) as server:
        argv = ["fetch", "code-final", "--start", "2022-11-25", "--end", "2022-11-28",
                "--data-dir", str(tmp_path), "--base-url", server.url]  # fmt: skip
        assert main(argv) == 1
        out = capsys.readouterr()
        assert "1 missing" in out.out
        assert "missing code-final 2022-11-26" in out.out
        assert "CODG3300.22I.Z: not on the archive (HTTP 404)" in out.out
        assert "1 files missing on the archive (2022-11-26)" in out.err
        assert main([*argv, "--allow-missing"]) == 0
    assert len(list((tmp_path / "code-final" / "2022").iterdir())) == 3


def test_dry_run_lists_the_urls_and_touches_nothing(archive, tmp_path: Path, capsys) -> None:
    files, _ = archive
    with _serve(files) as server:
        code = main(["fetch", "code-final", "omni2", "--start", "2022-11-26", "--end",
                     "2022-11-27", "--data-dir", str(tmp_path), "--base-url", server.url,
                     "--dry-run"])  # fmt: skip
        assert server.log == []
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"get  {server.url}CODE/2022/CODG3300.22I.Z -> {tmp_path}/code-final/2022/CODG3300.22I.Z"
    )
    assert lines[1].startswith(f"get  {server.url}CODE/2022/COD0OPSFIN_20223310000_01D_01H_GIM")
    assert lines[2].startswith(f"get  {server.url}low_res_omni/omni2_2022.dat ")
    assert lines[3] == "3 files; nothing downloaded (--dry-run)"
    assert not any(tmp_path.iterdir())


def test_netrc_login_goes_only_to_its_host(archive, tmp_path: Path) -> None:
    files, maps = archive
    netrc = tmp_path / "netrc"
    netrc.write_text("machine localhost login user password secret\n")
    netrc.chmod(0o600)
    with _serve(files, protected=("/gnss/",)) as server:
        report = fetch(["cddis-codg"], "2020-11-30", "2020-11-30", data_dir=tmp_path / "d",
                       base_url=server.url, netrc=netrc)  # fmt: skip
        log = list(server.log)
    assert report.ok(), report.summary()
    logins = [r for r in log if r.path.startswith("/login")]
    data = [r for r in log if not r.path.startswith("/login")]
    assert logins and all(r.host == "localhost" and r.authorization for r in logins)
    assert data and all(r.host == "127.0.0.1" and r.authorization is None for r in data)
    got = open_ionex(report.files[0])["tec"]
    np.testing.assert_allclose(got.values, maps["cddis-codg/2020-11-30"].values, atol=0.051)


def test_no_login_is_a_clear_failure(archive, tmp_path: Path) -> None:
    files, _ = archive
    with _serve(files, protected=("/gnss/",)) as server:
        report = fetch(["cddis-codg"], "2020-11-30", "2020-11-30", data_dir=tmp_path,
                       base_url=server.url, netrc=tmp_path / "none")  # fmt: skip
    ((item, reason),) = report.failed
    assert "HTTP 401" in reason and ".netrc" in reason


def test_netrc_credentials_need_https_or_loopback(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine urs.earthdata.nasa.gov login u password p\ndefault login d password d\n"
    )
    assert netrc_credentials("https://urs.earthdata.nasa.gov/oauth", netrc) == ("u", "p")
    assert netrc_credentials("http://urs.earthdata.nasa.gov/oauth", netrc) is None
    assert netrc_credentials("https://cddis.nasa.gov/archive/", netrc) is None  # no default


def test_plan_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="did you mean 'code-final'"):
        plan(["code-finall"], "2020-01-01", "2020-01-02")
    with pytest.raises(ValueError, match="give --start and --end"):
        plan(["code-final"])
    with pytest.raises(ValueError, match="end 2020-01-01 is before start 2020-01-02"):
        plan(["code-final"], "2020-01-02", "2020-01-01")
    with pytest.raises(ValueError, match="expected a date YYYY-MM-DD"):
        plan(["code-final"], "2020/01/02", "2020-01-03")
    with pytest.raises(ValueError, match="unknown variable"):
        plan(["weatherbench"], variables=["t2"])
