"""Rendering rules: stretch, alpha, flags overlay, premultiplied 2 x 2 reduction, tile encoding."""

import numpy as np
import pytest

from mosaic.encode import decode_tile, encode_tile, png_bytes
from mosaic.params import FLAGGED_STYLES, Stretch
from mosaic.render import (FLAG_COLOURS, FLAGGED_RGBA, downsample_rgba, render_flags, render_rgba,
                           stretch_to_byte)


def test_stretch_formula():
    refl = np.array([[[-500, 0, 500, 1000, 2000, 5000, np.nan]]], np.float32)
    np.testing.assert_array_equal(stretch_to_byte(refl, Stretch(0, 0.2)), [[[0, 0, 64, 128, 255, 255, 0]]])
    # gamma 2: sqrt before scaling
    assert stretch_to_byte(np.array([[[500.0]]], np.float32), Stretch(0, 0.2, 2.0))[0, 0, 0] == 128
    with pytest.raises(ValueError):
        Stretch(0.2, 0.1)


@pytest.mark.parametrize("flagged", FLAGGED_STYLES)
def test_render_rgba_alpha_and_flagged_styles(flagged):
    refl = np.full((3, 2, 8), 1000.0, np.float32)
    flg = np.array([[4, 3, 2, 1, 1, 0, 255, 4], [1, 1, 1, 1, 1, 1, 1, 1]], np.uint8)
    refl[:, 0, 7] = np.nan
    rgba = render_rgba(refl, flg, Stretch(0, 0.2), flagged)
    assert rgba[3, 0, :3].tolist() == [255, 255, 255] and rgba[0, 0, 0] == 128
    assert rgba[3, 0, 5] == 0 and rgba[3, 0, 6] == 0 and rgba[3, 0, 7] == 0     # nodata, outside, no value
    clouds = rgba[:, 1]
    if flagged == "transparent":
        assert not clouds[3].any()
    elif flagged == "grey":
        assert np.all(clouds.T == FLAGGED_RGBA)
    else:
        assert 0 < (clouds[3] == 255).sum() < 8 and np.all(clouds[0][clouds[3] == 255] == FLAGGED_RGBA[0])


def test_hatching_is_continuous_across_tiles():
    refl = np.zeros((3, 16, 32), np.float32)
    flg = np.ones((16, 32), np.uint8)
    whole = render_rgba(refl, flg, Stretch(), "hatch")
    left = render_rgba(refl[:, :, :16], flg[:, :16], Stretch(), "hatch", origin=(0, 0))
    right = render_rgba(refl[:, :, 16:], flg[:, 16:], Stretch(), "hatch", origin=(0, 16))
    np.testing.assert_array_equal(np.concatenate([left, right], axis=2), whole)


def test_flags_overlay_colours():
    flg = np.array([[0, 1, 2, 3, 4, 255]], np.uint8)
    rgba = render_flags(flg)
    assert tuple(rgba[:, 0, 0]) == FLAG_COLOURS[0] and tuple(rgba[:, 0, 1]) == FLAG_COLOURS[1]
    assert not rgba[3, 0, 2:].any()
    assert not render_flags(np.full((4, 4), 4, np.uint8)).any()


def test_downsample_premultiplied():
    rgba = np.zeros((4, 2, 4), np.uint8)
    rgba[:, 0, 0] = (200, 100, 0, 255)   # one opaque pixel among three transparent ones: colour kept
    rgba[:, :, 2:] = np.array([10, 20, 30, 255], np.uint8)[:, None, None]
    rgba[:, 0, 3] = (11, 21, 31, 255)
    out = downsample_rgba(rgba)
    assert tuple(out[:, 0, 0]) == (200, 100, 0, 64)
    assert tuple(out[:, 0, 1]) == (10, 20, 30, 255)      # (10 * 3 + 11) / 4 = 10.25
    assert not downsample_rgba(np.zeros((4, 4, 4), np.uint8)).any()
    with pytest.raises(ValueError):
        downsample_rgba(np.zeros((4, 3, 4), np.uint8))


@pytest.mark.parametrize("tile_format", ["png", "webp"])
def test_tiles_encode_losslessly(tmp_path, tile_format):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (4, 256, 256), dtype=np.uint8)
    rgba[3, :10] = 0
    path = tmp_path / f"t.{tile_format}"
    path.write_bytes(encode_tile(rgba, tile_format))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decoded = decode_tile(path)
    if tile_format == "webp":   # lossless WebP may drop the colour of fully transparent pixels
        decoded[:3, rgba[3] == 0] = rgba[:3, rgba[3] == 0]
    np.testing.assert_array_equal(decoded, rgba)
    assert png_bytes(rgba) == png_bytes(rgba.copy())       # same pixels, same bytes
