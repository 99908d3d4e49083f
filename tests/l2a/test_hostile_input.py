"""Hostile input through the command lines: every class of bad input exits 2 with one line
``prog: error: FILE: problem`` and leaves nothing behind (issue 11, "bad input").

Classes: rasters of the wrong kind (data type, band count, a folder where a file should be) in Theia, Sen2Cor and
L1C products, checked when the product is opened; archives that cannot be read in place (encrypted entries, other
compression methods, corrupt data); output paths the file system refuses; JSON beyond sane limits.
"""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from real_cubes import Cube, write_sen2cor_like, zip_product  # noqa: E402

from l2a import open_l1c, open_l2a  # noqa: E402
from l2a.cli import cli as l2a_cli  # noqa: E402
from l2a.cli_options import run_cli  # noqa: E402
from l2a.errors import RasterKindError, UnreadableArchiveError  # noqa: E402
from l2a.io.archive import open_zip_index  # noqa: E402
from l2a.formats.theia.rasters import STACK_BANDS  # noqa: E402
from l2a.sensors import L2A_BANDS  # noqa: E402

from .conftest import small_grids, write_bare_product  # noqa: E402

UTC = dt.timezone.utc
L1C_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "alcd_toulouse_l1c_safe"
L1C_NAME = "S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"


# --- helpers --------------------------------------------------------------------------------------------------
def run(prog: str, args, capsys) -> tuple[int, str]:
    """Run a CLI in process; returns (exit code, stderr)."""
    if prog == "l2a":
        group = l2a_cli
    elif prog == "l3a":
        from l3a.cli import cli as group
    else:
        from mosaic.cli import cli as group
    capsys.readouterr()
    code = run_cli(group, prog, [str(a) for a in args])
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, prog: str, path, *words) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"{prog}: error: {path}"), err
    for w in words:
        assert w in err, (w, err)


def rewrite(path: Path, dtype, count: int = 1) -> None:
    """Replace a raster by one of another data type or band count on the same grid (GTiff, whatever the suffix)."""
    with rasterio.open(path) as ds:
        profile = dict(crs=ds.crs, transform=ds.transform, height=ds.height, width=ds.width)
    path.unlink()
    with rasterio.open(path, "w", driver="GTiff", count=count, dtype=dtype, **profile) as ds:
        ds.write(np.ones((count, profile["height"], profile["width"]), dtype))


def to_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "x").write_text("x")


def member(product: Path, pattern: str) -> Path:
    found = sorted(product.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


# --- rasters of the wrong kind: Theia -------------------------------------------------------------------------
THEIA_CASES = [
    ("*_FRE_B2.tif", lambda f: rewrite(f, np.complex64), "stored as complex64"),
    ("*_FRE_B2.tif", lambda f: rewrite(f, np.int32), "stored as int32"),
    ("*_FRE_B4.tif", lambda f: rewrite(f, np.int16, 3), "has 3 band(s), expected 1"),
    ("*_FRE_B5.tif", to_folder, "is a folder where a file should be"),
    ("MASKS/*_CLM_R1.tif", lambda f: rewrite(f, np.int16), "mask is stored as int16"),
    ("MASKS/*_MG2_R2.tif", lambda f: rewrite(f, np.uint8, 2), "mask has 2 band(s)"),
    ("MASKS/*_EDG_R1.tif", to_folder, "is a folder where a file should be"),
    ("*_ATB_R1.tif", lambda f: rewrite(f, np.uint8, 5), "has 5 band(s), expected 2"),
    ("*_ATB_R2.tif", lambda f: rewrite(f, np.float64, 2), "stored as float64"),
    ("*_MTD_ALL.xml", to_folder, "is a folder where a file should be"),
]


@pytest.mark.parametrize("pattern, damage, words", THEIA_CASES)
def test_theia_raster_of_the_wrong_kind_is_refused_at_open(product_copy, capsys, pattern, damage, words):
    product, _ = product_copy
    target = member(product, pattern)
    damage(target)
    with pytest.raises(RasterKindError, match=target.name):
        open_l2a(product)
    code, err = run("l2a", ["info", product], capsys)
    assert_one_line(code, err, "l2a", target, words)


def test_theia_stack_with_too_many_bands_is_refused(tmp_path, capsys):
    grids = small_grids(6, 8)
    stack = np.ones((len(STACK_BANDS) + 1, 6, 8), np.int16)
    folder = write_bare_product(tmp_path, "SENTINEL2B_20200101-101010-123_L2A_T31TCJ_C_V2-2", grids,
                                {"FRE_STACK": stack})
    code, err = run("l2a", ["info", folder], capsys)
    assert_one_line(code, err, "l2a", next(folder.glob("*_FRE_STACK.tif")), "11 band(s), expected 1 to 10")


def test_l3a_compose_refuses_a_bad_input_and_leaves_nothing(product_copy, tmp_path, capsys):
    product, _ = product_copy
    target = member(product, "MASKS/*_CLM_R2.tif")
    rewrite(target, np.complex64)
    out = tmp_path / "out"
    code, err = run("l3a", ["-q", "compose", product, "--tile", "T31TCJ", "--month", "2018-07", "--out", out], capsys)
    assert_one_line(code, err, "l3a", target, "stored as complex64")
    assert not out.exists() or not any(out.iterdir())


# --- rasters of the wrong kind: Sen2Cor and L1C ---------------------------------------------------------------
@pytest.fixture(scope="module")
def small_safe_source(tmp_path_factory) -> Path:
    rng = np.random.default_rng(3)
    shape = (1, 9, 7)
    cube = Cube("small", (dt.datetime(2024, 3, 5, tzinfo=UTC),),
                {b: rng.integers(1, 12000, shape).astype(np.uint16) for b in L2A_BANDS},
                rng.integers(0, 12, shape).astype(np.uint8), CRS.from_epsg(32631),
                Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 5000020.0), rng.integers(0, 400, shape).astype(np.uint16))
    return write_sen2cor_like(cube, 0, tmp_path_factory.mktemp("sen2cor"))


SEN2COR_CASES = [
    ("GRANULE/*/IMG_DATA/R10m/*_B02_10m.jp2", lambda f: rewrite(f, np.int32), "stored as int32, expected uint16"),
    ("GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2", lambda f: rewrite(f, np.complex64), "stored as complex64"),
    ("GRANULE/*/IMG_DATA/R20m/*_B05_20m.jp2", lambda f: rewrite(f, np.uint16, 3), "3 band(s), expected 1"),
    ("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2", lambda f: rewrite(f, np.int16), "stored as int16, expected uint8"),
    ("GRANULE/*/IMG_DATA/R20m/*_AOT_20m.jp2", lambda f: rewrite(f, np.uint16, 2), "2 band(s), expected 1"),
    ("GRANULE/*/IMG_DATA/R10m/*_B08_10m.jp2", to_folder, "is a folder where a file should be"),
    ("GRANULE/*/MTD_TL.xml", to_folder, "is a folder where a file should be"),
]


@pytest.mark.parametrize("pattern, damage, words", SEN2COR_CASES)
def test_sen2cor_raster_of_the_wrong_kind_is_refused_at_open(small_safe_source, tmp_path, capsys, pattern, damage,
                                                             words):
    safe = tmp_path / small_safe_source.name
    shutil.copytree(small_safe_source, safe)
    target = member(safe, pattern)
    damage(target)
    with pytest.raises(RasterKindError, match=target.name):
        open_l2a(safe)
    code, err = run("l2a", ["info", safe], capsys)
    assert_one_line(code, err, "l2a", target, words)


@pytest.mark.real
@pytest.mark.parametrize("damage, words", [(lambda f: rewrite(f, np.uint16, 2), "has 2 band(s), expected 1"),
                                           (lambda f: rewrite(f, np.complex64), "stored as complex64"),
                                           (to_folder, "is a folder where a file should be")])
def test_l1c_band_of_the_wrong_kind_is_refused_at_open(tmp_path, damage, words):
    if not L1C_DIR.is_dir():
        pytest.fail(f"real L1C products not found in {L1C_DIR}")
    safe = tmp_path / L1C_NAME
    shutil.copytree(L1C_DIR / L1C_NAME, safe)
    target = member(safe, "GRANULE/*/IMG_DATA/*_B03.jp2")
    damage(target)
    with pytest.raises(RasterKindError, match=words.replace("(", r"\(").replace(")", r"\)")):
        open_l1c(safe)


# --- archives that cannot be read in place --------------------------------------------------------------------
def _patch_entries(path: Path, suffix: str, *, flags: int = 0, method: int | None = None) -> None:
    """Set general-purpose flag bits and/or the compression method of the entries ending in ``suffix``, in their
    local and central headers (zipfile cannot write encrypted or AES entries)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        offsets = [i.header_offset for i in zf.infolist() if i.filename.endswith(suffix)]
    central = []
    i = data.find(b"PK\x01\x02")
    while i >= 0:
        name_len = struct.unpack("<H", data[i + 28:i + 30])[0]
        if data[i + 46:i + 46 + name_len].decode().endswith(suffix):
            central.append(i + 2)  # the central header has "version made by" before the fields of a local one
        i = data.find(b"PK\x01\x02", i + 4)
    for start in offsets + central:
        old_flags = struct.unpack("<H", data[start + 6:start + 8])[0]
        data[start + 6:start + 8] = struct.pack("<H", old_flags | flags)
        if method is not None:
            data[start + 8:start + 10] = struct.pack("<H", method)
    path.write_bytes(bytes(data))


def _zip(product: Path, dest: Path, compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(dest, "w", compression) as zf:
        for f in sorted(product.rglob("*")):
            if f.is_file():
                zf.write(f, f"{product.name}/{f.relative_to(product)}")
    return dest


ARCHIVE_CASES = {
    "encrypted raster": (zipfile.ZIP_DEFLATED, dict(suffix="_FRE_B2.tif", flags=1), "is encrypted"),
    "encrypted metadata": (zipfile.ZIP_DEFLATED, dict(suffix="_MTD_ALL.xml", flags=1), "is encrypted"),
    "AES (method 99)": (zipfile.ZIP_DEFLATED, dict(suffix=".tif", method=99), "method 99 (AES encryption)"),
    "LZMA": (zipfile.ZIP_LZMA, None, "method 14 (LZMA)"),
    "bzip2": (zipfile.ZIP_BZIP2, None, "method 12 (bzip2)"),
}


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_unreadable_archive_is_refused_at_index(written_product, tmp_path, capsys, case):
    product, _ = written_product
    compression, patch, words = ARCHIVE_CASES[case]
    archive = _zip(product, tmp_path / f"{product.name}.zip", compression)
    if patch:
        _patch_entries(archive, patch["suffix"], flags=patch.get("flags", 0), method=patch.get("method"))
    with pytest.raises(UnreadableArchiveError, match=words.replace("(", r"\(").replace(")", r"\)")):
        open_zip_index(archive)
    code, err = run("l2a", ["info", archive], capsys)
    assert_one_line(code, err, "l2a", archive, words)


def test_archive_with_corrupt_metadata_member(written_product, tmp_path, capsys):
    product, _ = written_product
    archive = _zip(product, tmp_path / f"{product.name}.zip")
    with zipfile.ZipFile(archive) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith("_MTD_ALL.xml"))
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 50, start + min(info.compress_size, 90)):
        data[k] ^= 0x5A
    archive.write_bytes(bytes(data))
    code, err = run("l2a", ["info", archive], capsys)
    assert_one_line(code, err, "l2a", archive, "cannot read member", "_MTD_ALL.xml")


def test_archive_folder_named_like_a_raster(written_product, tmp_path, capsys):
    product, _ = written_product
    archive = zip_product(product, tmp_path / f"{product.name}.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(f"{product.name}/MASKS/{product.name}_CLM_R9.tif/x", b"x")
    code, err = run("l2a", ["info", archive], capsys)
    assert_one_line(code, err, "l2a", f"{archive}/{product.name}/MASKS/{product.name}_CLM_R9.tif",
                    "is a folder where a file should be")


# --- output paths the file system refuses ---------------------------------------------------------------------
def _refused_outputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    blocker = tmp_path / "regular_file"
    blocker.write_text("x")
    return {"below a regular file": (blocker / "out", "Not a directory"),
            "name too long": (tmp_path / ("n" * 300), "File name too long")}


@pytest.mark.parametrize("case", ["below a regular file", "name too long"])
def test_l3a_compose_refused_output(written_product, tmp_path, capsys, case):
    product, _ = written_product
    out, reason = _refused_outputs(tmp_path)[case]
    code, err = run("l3a", ["-q", "compose", product, "--tile", "T31TCJ", "--month", "2018-07", "--out", out], capsys)
    assert_one_line(code, err, "l3a", out, reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regular_file"]


@pytest.mark.parametrize("case", ["below a regular file", "name too long"])
def test_l2a_simulate_refused_output(tmp_path, capsys, case):
    out, reason = _refused_outputs(tmp_path)[case]
    code, err = run("l2a", ["simulate", "--out", out, "--tiles", "T31TCJ", "--start", "2018-07-10", "--end",
                            "2018-07-11", "--size", "60", "-q", "--workers", "1"], capsys)
    assert_one_line(code, err, "l2a", out, reason)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["regular_file"]


# --- JSON beyond sane limits ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [("[" * 100000 + "]" * 100000, "nested deeper than 64 levels"),
                                         ('{"tiles": ' + "[" * 100 + "]" * 100 + "}", "nested deeper"),
                                         ("{tiles: 1", "not valid JSON")])
def test_l3a_validate_refuses_hostile_truth_index(tmp_path, capsys, text, words):
    l3a_product = tmp_path / "SENTINEL2X_20180715-000000-000_L3A_T31TCJ_C_V1-0"
    l3a_product.mkdir()
    with rasterio.open(l3a_product / f"{l3a_product.name}_FRC_B2.tif", "w", driver="GTiff", height=4, width=4,
                       count=1, dtype="int16", crs="EPSG:32631",
                       transform=Affine(10, 0, 300000, 0, -10, 4900020)) as ds:
        ds.write(np.zeros((1, 4, 4), np.int16))
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "index.json").write_text(text)
    code, err = run("l3a", ["validate", l3a_product, "--truth", truth], capsys)
    assert_one_line(code, err, "l3a", truth / "index.json", words)
