"""Raw reading of Theia products (the synthesis's fast path) against the reader's own planes."""

import numpy as np
import pytest
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA
from l2a.detect import open_l2a
from l2a.formats.theia.bits import CLM_CLOUD_OR_SHADOW_BITS, MG2_SNOW_BIT, MG2_WATER_BIT
from l2a.formats.theia.raw import RawReader, raw_layout


def _decoded(block, refl):
    """The planes the synthesis sees: reflectance with nodata and EDG applied, cloud or shadow, water, snow."""
    refl = refl.copy()
    edge = (block.edg != 0) if block.apply_edge else np.zeros(block.edg.shape, bool)
    invalid = edge[None] | ((refl == block.refl_nodata) if block.refl_nodata is not None else False)
    refl[np.broadcast_to(invalid, refl.shape)] = REFLECTANCE_NODATA
    return (refl, (block.clm & CLM_CLOUD_OR_SHADOW_BITS) != 0, (block.mg2 & MG2_WATER_BIT) != 0,
            (block.mg2 & MG2_SNOW_BIT) != 0, block.edg != 0)


@pytest.mark.parametrize("res, bands", [("R1", ("B2", "B4")), ("R2", ("B5", "B11"))])
def test_raw_and_reader_paths_give_the_same_planes(written_product, res, bands, monkeypatch):
    folder, _ = written_product
    p = open_l2a(folder)
    assert raw_layout(p, res, bands) is not None
    g = p.grid(res)
    win = Window(1, 2, g.width - 3, g.height - 4)  # an inner window holding edge (EDG) columns
    shape = (len(bands), int(win.height), int(win.width))
    raw_refl, generic_refl = np.empty(shape, np.int16), np.empty(shape, np.int16)
    with RawReader(p, res, bands) as reader:
        raw = reader.read(win, raw_refl)
        raw_cloud, raw_nodata = reader.read_cloud_and_nodata(win)
    assert raw.apply_edge
    monkeypatch.setattr("l2a.formats.theia.raw.raw_layout", lambda *args: None)  # force the reader's path
    with RawReader(p, res, bands) as reader:
        generic = reader.read(win, generic_refl)
        generic_cloud, generic_nodata = reader.read_cloud_and_nodata(win)
    assert not generic.apply_edge
    for a, b in zip(_decoded(raw, raw_refl), _decoded(generic, generic_refl)):
        mask = a if a.dtype == bool else a == REFLECTANCE_NODATA
        assert mask.any() and not mask.all()  # a plane with something to compare
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(raw_cloud, generic_cloud)
    np.testing.assert_array_equal(raw_nodata, generic_nodata)
