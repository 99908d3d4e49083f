"""Fixtures of the mosaic tests: a small synthetic country of L3A tiles across two UTM zones, and its mosaic."""

import importlib.util
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def _load(name: str, filename: str):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE / filename)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def synthetic():
    """The synthetic-country builder module (:mod:`l3a.synthetic`)."""
    from l3a import synthetic

    return synthetic


@pytest.fixture(scope="session")
def viewer_data():
    """The two-month test mosaics of the viewer (tests/mosaic/viewer_data.py)."""
    return _load("mosaic_tests_viewer_data", "viewer_data.py")


@pytest.fixture(scope="session")
def country(tmp_path_factory, synthetic):
    """Four MGRS tiles (two per zone) at 300 m, bands B2 B3 B4 B8 and B11, with offsets, a common always-cloudy
    disc, a lake (Theia WGT 0) and a cloud hole in T31TCJ inside the zone overlap."""
    spec = synthetic.Country(bands=("B2", "B3", "B4", "B8", "B11"),
                             holes={"T31TCJ": ((-25_000.0, 20_000.0, 3_000.0),)})
    folder = tmp_path_factory.mktemp("country")
    return spec, synthetic.make_country(folder, spec)


@pytest.fixture(scope="session")
def mosaic_dir(tmp_path_factory, country):
    """`mosaic build` of the country at 300 m in Lambert-93 (blend)."""
    from mosaic.build import build_mosaic
    from mosaic.params import MosaicParams

    out = tmp_path_factory.mktemp("mosaic") / "m"
    build_mosaic(country[1], out, MosaicParams(crs="EPSG:2154", resolution=300.0), workers=2)
    return out


@pytest.fixture(scope="session")
def pyramid_dir(tmp_path_factory, mosaic_dir):
    """`mosaic tiles` of that mosaic, zooms 5-9 (job zoom 6: zoom 5 is built from tile files)."""
    from mosaic.params import PyramidParams
    from mosaic.tiles import build_pyramid

    out = tmp_path_factory.mktemp("tiles") / "t"
    build_pyramid(mosaic_dir / "mosaic.tif", out, PyramidParams(5, 9), workers=2)
    return out
