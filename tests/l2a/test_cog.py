"""COG writer: DEFLATE level (same pixels, option passed only when given, bad levels refused) and the per-dataset
mask written through the public method."""

import os

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import MaskFlags
from rasterio.windows import Window

from l2a.errors import InvalidParameterError
from l2a.io.cog import CogWriter, check_deflate_level, write_cog

CRS_UTM = CRS.from_epsg(32631)
TRANSFORM = Affine(10.0, 0.0, 300000.0, 0.0, -10.0, 4900020.0)


def structured(shape=(600, 600), seed=0) -> np.ndarray:
    """int16 blocks of 10 x 10 equal values (compresses better at higher levels, unlike pure noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 3000, (shape[0] // 10, shape[1] // 10))
    return np.repeat(np.repeat(coarse, 10, 0), 10, 1).astype(np.int16)


def write(path, data, **kwargs) -> str:
    return write_cog(path, data, crs=CRS_UTM, transform=TRANSFORM, nodata=-10000, **kwargs)


def test_deflate_level_same_pixels_and_size_order(tmp_path):
    data = structured()
    paths = {level: write(tmp_path / f"{level}.tif", data, deflate_level=level) for level in (None, 1, 6, 12)}
    for level, path in paths.items():
        with rasterio.open(path) as ds:
            assert ds.profile["compress"] == "deflate" and ds.overviews(1)
            np.testing.assert_array_equal(ds.read(1), data, err_msg=str(level))
    size = {level: os.path.getsize(path) for level, path in paths.items()}
    assert size[1] >= size[None] >= size[12]
    with open(paths[None], "rb") as a, open(paths[6], "rb") as b:
        assert a.read() == b.read()   # None is GDAL's default, 6


def test_level_option_passed_only_when_given(tmp_path, monkeypatch):
    seen = []
    copy = rasterio.shutil.copy

    def spy(src, dst, **options):
        seen.append(options)
        return copy(src, dst, **options)

    monkeypatch.setattr(rasterio.shutil, "copy", spy)
    write(tmp_path / "a.tif", structured((40, 40)))
    write(tmp_path / "b.tif", structured((40, 40)), deflate_level=np.int64(1))
    assert "level" not in seen[0] and seen[1]["level"] == "1"


@pytest.mark.parametrize("level", [0, 13, -1, 1.5, True, "6"])
def test_bad_deflate_level_is_refused_before_writing(tmp_path, level):
    with pytest.raises(InvalidParameterError, match="DEFLATE level"):
        CogWriter(tmp_path / "x.tif", crs=CRS_UTM, transform=TRANSFORM, height=8, width=8, dtype="int16",
                  deflate_level=level)
    assert not list(tmp_path.iterdir())
    with pytest.raises(InvalidParameterError):
        check_deflate_level(level)


def test_check_deflate_level_accepts_none_and_1_to_12():
    assert check_deflate_level(None) is None
    assert [check_deflate_level(n) for n in range(1, 13)] == list(range(1, 13))
    assert check_deflate_level(np.int16(9)) == 9


def test_write_mask_by_windows(tmp_path):
    shape = (600, 520)
    data = np.stack([structured(shape, 1), structured(shape, 2)])
    mask = np.full(shape, 255, np.uint8)
    mask[:100, :] = 0
    mask[300:, 400:] = 0
    path = tmp_path / "m.tif"
    with CogWriter(path, crs=CRS_UTM, transform=TRANSFORM, height=shape[0], width=shape[1], dtype="int16",
                   count=2, nodata=-10000) as w:
        for row in range(0, shape[0], 256):
            win = Window(0, row, shape[1], min(256, shape[0] - row))
            rows = slice(row, row + int(win.height))
            w.write(data[:, rows], win)
            w.write_mask(mask[rows] if row else mask[rows] > 0, win)   # uint8, or bool for the first block
    with rasterio.open(path) as ds:
        assert ds.mask_flag_enums[0] == [MaskFlags.per_dataset]
        np.testing.assert_array_equal(ds.read_masks(1), mask)
        np.testing.assert_array_equal(ds.read_masks(2), mask)
        np.testing.assert_array_equal(ds.read(), data)
        assert ds.overviews(1)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.int16), np.zeros((1, 4, 4), np.uint8)])
def test_write_mask_refuses_other_arrays(tmp_path, bad):
    w = CogWriter(tmp_path / "x.tif", crs=CRS_UTM, transform=TRANSFORM, height=4, width=4, dtype="uint8")
    try:
        with pytest.raises(InvalidParameterError, match="mask"):
            w.write_mask(bad)
    finally:
        w.abort()


def _pyramid(data, nodata, resampling):
    """Reference levels of the writer's own overviews (numpy twins of the kernels, level from level)."""
    from l2a.kernels import downsample2_average_ref, downsample2_nearest_ref

    levels, level = [], data[None]
    while max(level.shape[1:]) > 512:
        level = (downsample2_nearest_ref(level) if resampling == "nearest"
                 else downsample2_average_ref(level, nodata))
        levels.append(level[0])
    return levels


@pytest.mark.parametrize("dtype, nodata, resampling", [("int16", -10000, "average"), ("uint8", None, "nearest"),
                                                       ("float32", None, "average")])
def test_own_overviews_are_the_pyramid_and_the_file_is_a_cog(tmp_path, dtype, nodata, resampling):
    from l2a.io.cog import overview_shapes

    shape = (1100, 2051)   # odd sizes: the last row and column of a level cover one pixel
    data = structured((1110, 2060), 4)[:shape[0], :shape[1]].astype(dtype)
    if nodata is not None:
        data[:300, :700] = nodata
    path = tmp_path / "o.tif"
    with CogWriter(path, crs=CRS_UTM, transform=TRANSFORM, height=shape[0], width=shape[1], dtype=dtype,
                   nodata=nodata, descriptions=["B4"], scale=1e-4, resampling=resampling,
                   tags={"PRODUCT": "x"}) as w:
        for row in range(0, shape[0], 512):   # windows in any order
            w.write(data[row:row + 512], Window(0, row, shape[1], min(512, shape[0] - row)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.tif"]   # no temporary level, VRT or GeoTIFF left
    levels = _pyramid(data, nodata, resampling)
    assert [lv.shape for lv in levels] == overview_shapes(*shape) == [(550, 1026), (275, 513), (138, 257)]
    with rasterio.open(path) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.profile["compress"] == "deflate" and ds.block_shapes[0] == (512, 512)
        assert ds.descriptions == ("B4",) and ds.scales == (1e-4,) and ds.tags()["PRODUCT"] == "x"
        assert ds.nodata == nodata or (nodata is None and ds.nodata is None)
        np.testing.assert_array_equal(ds.read(1), data)
        assert len(ds.overviews(1)) == len(levels)
        for lv in levels:
            np.testing.assert_array_equal(ds.read(1, out_shape=lv.shape), lv)


def test_masked_rasters_keep_gdal_overviews(tmp_path):
    shape = (600, 600)
    path = tmp_path / "m.tif"
    with CogWriter(path, crs=CRS_UTM, transform=TRANSFORM, height=shape[0], width=shape[1], dtype="int16") as w:
        w.write(structured(shape))
        w.write_mask(np.ones(shape, bool))
    with rasterio.open(path) as ds:
        assert ds.overviews(1) and ds.mask_flag_enums[0] == [MaskFlags.per_dataset]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tif"]


def _too_long_for_gdal(tmp_path):
    """A folder the OS accepts whose path is longer than GDAL's path buffers (about 4 KB in all)."""
    folder = tmp_path
    while len(str(folder)) < 3700:
        folder = folder / ("d" * 200)
    folder.mkdir(parents=True)
    return folder


def test_path_gdal_refuses_is_an_output_error_naming_it(tmp_path):
    from l2a.errors import OutputError

    folder = _too_long_for_gdal(tmp_path)
    with pytest.raises(OutputError, match="cannot create the raster") as info:
        CogWriter(folder / "x.tif", crs=CRS_UTM, transform=TRANSFORM, height=8, width=8, dtype="int16")
    assert info.value.path == str(folder / "x.tif")
    assert list(folder.iterdir()) == []  # no temporary left
