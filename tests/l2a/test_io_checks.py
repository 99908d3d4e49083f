"""Input checks of l2a.io (raster kinds, folders standing for files, JSON limits) and the CLI error handler's
treatment of what the file system refuses."""

from __future__ import annotations

import errno
import json
import os
import re

import click
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.errors import RasterioIOError

from l2a.cli_options import run_cli
from l2a.errors import MetadataError, MissingFileError, RasterKindError
from l2a.io.jsondoc import MAX_DEPTH, json_depth, parse_json, read_json
from l2a.io.members import list_members
from l2a.io.raster import check_raster_kind, open_raster


@pytest.fixture
def tif(tmp_path):
    def make(name="r.tif", dtype="int16", count=1):
        path = tmp_path / name
        with rasterio.open(path, "w", driver="GTiff", height=3, width=4, count=count, dtype=dtype,
                           crs="EPSG:32631", transform=Affine(10, 0, 0, 0, -10, 30)) as ds:
            ds.write(np.zeros((count, 3, 4), dtype))
        return path
    return make


# --- raster kinds ---------------------------------------------------------------------------------------------
def test_check_raster_kind_accepts_the_expected_kind(tif):
    check_raster_kind(tif(), ("int16",), 1, "band B2")
    check_raster_kind(tif(count=3, dtype="uint8"), ("uint8",), (1, 3), "TCI")
    with open_raster(tif(dtype="float32"), "band", dtypes=("int16", "float32"), count=1) as ds:
        assert ds.count == 1
    check_raster_kind(tif(dtype="complex64", count=2), None, None)   # nothing asked, nothing checked


@pytest.mark.parametrize("dtype, count, expected_dtypes, expected_count, words", [
    ("complex64", 1, ("int16",), 1, "band B2 is stored as complex64, expected int16"),
    ("int32", 1, ("int16", "uint16", "float32"), 1, "expected int16, uint16 or float32"),
    ("int16", 3, ("int16",), 1, "band B2 has 3 band(s), expected 1"),
    ("uint8", 11, ("uint8",), (1, 10), "has 11 band(s), expected 1 to 10"),
])
def test_check_raster_kind_refuses_other_kinds(tif, dtype, count, expected_dtypes, expected_count, words):
    path = tif(dtype=dtype, count=count)
    with pytest.raises(RasterKindError, match=re.escape(words)) as raised:
        check_raster_kind(path, expected_dtypes, expected_count, "band B2")
    assert str(raised.value).startswith(f"{path}: band B2 ")
    with pytest.raises(RasterKindError, match=re.escape(words)):
        open_raster(path, "band B2", dtypes=expected_dtypes, count=expected_count)


def test_open_raster_refuses_folders_and_special_files(tmp_path):
    (tmp_path / "b.tif").mkdir()
    with pytest.raises(RasterKindError, match="band is a folder, not a file"):
        open_raster(tmp_path / "b.tif", "band")
    fifo = tmp_path / "p.tif"
    os.mkfifo(fifo)   # opening a pipe would block until someone writes to it
    with pytest.raises(RasterKindError, match="not a regular file"):
        open_raster(fifo, "band")
    with pytest.raises(MissingFileError):
        open_raster(tmp_path / "none.tif")


def test_list_members_refuses_folders_named_like_product_files(tmp_path):
    (tmp_path / "MASKS" / "X_CLM_R1.tif").mkdir(parents=True)
    (tmp_path / "GRANULE" / "L1C_T31TCJ").mkdir(parents=True)
    (tmp_path / "GRANULE" / "L1C_T31TCJ" / "MTD_TL.xml").write_text("<a/>")
    with pytest.raises(RasterKindError, match="X_CLM_R1.tif: is a folder where a file should be"):
        list_members(tmp_path)
    (tmp_path / "MASKS" / "X_CLM_R1.tif").rmdir()
    assert list_members(tmp_path) == ["GRANULE/L1C_T31TCJ/MTD_TL.xml"]


# --- JSON limits ----------------------------------------------------------------------------------------------
def test_json_depth_without_recursion():
    assert (json_depth(1), json_depth([]), json_depth({"a": [1, {"b": []}]})) == (0, 1, 4)
    deep = []
    for _ in range(100000):
        deep = [deep]
    assert json_depth(deep) == MAX_DEPTH + 1


@pytest.mark.parametrize("text, words", [("[" * 100000 + "]" * 100000, "nested deeper than 64 levels"),
                                         ("[" * 65 + "]" * 65, "nested deeper than 64 levels"),
                                         ("{tiles: 1", "not valid JSON"),
                                         (b"\xff\xfe{", "not UTF-8")])
def test_hostile_json_is_one_line(tmp_path, text, words):
    path = tmp_path / "index.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(MetadataError, match=f"^{path}: truth index (is )?{words}"):
        read_json(path, "truth index")


def test_read_json_limits_and_valid_documents(tmp_path):
    path = tmp_path / "index.json"
    doc = {"tiles": {"T31TCJ": {"acquisitions": [{"files": {"FRE": "a.tif"}}]}}}
    path.write_text(json.dumps(doc))
    assert read_json(path, "truth index") == doc
    assert parse_json("[" * 64 + "]" * 64, "x") is not None
    with pytest.raises(MetadataError, match="bytes, more than the 10 accepted"):
        read_json(path, "truth index", max_bytes=10)
    with pytest.raises(MissingFileError, match="truth index not found"):
        read_json(tmp_path / "none.json", "truth index")
    with pytest.raises(MetadataError, match="not a regular file"):
        read_json(tmp_path, "truth index")


# --- the CLI error handler and the file system ----------------------------------------------------------------
def _group(exc: BaseException) -> click.Group:
    @click.group()
    @click.option("-v", "--verbose", count=True)
    def group(verbose):
        pass

    @group.command()
    def go():
        raise exc

    return group


@pytest.mark.parametrize("exc, line", [
    (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/x/file/out"), "prog: error: /x/file/out: Not a directory"),
    (OSError(errno.ENAMETOOLONG, "File name too long", "/x/" + "n" * 300),
     f"prog: error: /x/{'n' * 300}: File name too long"),
    (OSError(errno.EXDEV, "Invalid cross-device link", "/a/.tmp", None, "/b/out"),
     "prog: error: /a/.tmp -> /b/out: Invalid cross-device link"),
    (RasterioIOError("Attempt to create new tiff file '/x/f/a.tif' failed: Not a directory"),
     "prog: error: Attempt to create new tiff file '/x/f/a.tif' failed: Not a directory"),
])
def test_run_cli_reports_refused_paths_in_one_line(capsys, exc, line):
    assert run_cli(_group(exc), "prog", ["go"]) == 2
    assert capsys.readouterr().err == line + "\n"


def test_run_cli_keeps_tracebacks_with_vv_and_for_real_bugs(capsys):
    exc = PermissionError(errno.EACCES, "Permission denied", "/x/out")
    assert run_cli(_group(exc), "prog", ["-vv", "go"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("prog: error: /x/out: Permission denied\n")
    with pytest.raises(OSError, match="no file named"):   # an OSError naming no file is not explained: a bug
        run_cli(_group(OSError("no file named")), "prog", ["go"])
    with pytest.raises(KeyError):
        run_cli(_group(KeyError("bug")), "prog", ["go"])
