"""The comparison viewer in a real browser: Debian's chromium driven by Playwright, against `mosaic serve`.

Skipped (with the reason) when chromium or Playwright is missing, except when the environment variable CI is set:
then they must run, and a missing browser fails. The Makefile installs chromium with apt-get when run as root.
The documented screenshot (docs/viewer.png, shown in the README) is written by :func:`test_screenshot`.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]

CHROMIUM = "/usr/bin/chromium"
#: Flags for a sandboxed, offline machine (see .library/env/machines/python.md); a fresh profile per run.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 800, "height": 500}
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "viewer.png"
INSTALL_HINT = "apt-get install -y chromium chromium-driver (as root; `make test` does it)"


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


def _load_viewer_data():
    name = "mosaic_tests_viewer_data"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("viewer_data.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


vd = _load_viewer_data()


@pytest.fixture(scope="module")
def playwright_api():
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} not found: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[viewer]'")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("viewer")
    left, right = vd.make_pyramids(root)
    from mosaic.compare import write_compare_site

    out = root / "site"
    write_compare_site(left, right, out, workers=2)
    return out


@pytest.fixture(scope="module")
def url(site):
    """`mosaic serve` on a free loopback port (it picks one with --port 0 and prints its URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "mosaic", "serve", str(site), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", line), line
        yield line
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(playwright_api):
    profile = tempfile.mkdtemp(prefix="syntheo-chromium-")
    context = playwright_api.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT)
    context.set_default_timeout(15000)
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


class Visit:
    """A page with its network and console logs."""

    def __init__(self, context, url: str):
        self.page = context.new_page()
        self.responses, self.failures, self.errors = [], [], []
        self.page.on("response", self._response)
        self.page.on("requestfailed", lambda r: self.failures.append(f"{r.url}: {r.failure}"))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        self.settle()

    def _response(self, r):
        self.responses.append((r.status, r.url))
        if r.status >= 400:
            self.failures.append(f"{r.url}: {r.status}")

    def settle(self):
        """Wait until every tile layer on the map has loaded its tiles."""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_function(
            "() => window.syntheoViewer && Object.values(syntheoViewer.layers).flatMap(Object.values)"
            ".every(l => !l || !syntheoViewer.map.hasLayer(l) || !l.isLoading())")

    def tiles(self, folder: str) -> list:
        return [u for s, u in self.responses if s == 200 and re.search(rf"/{folder}/\d+/\d+/\d+\.png$", u)]

    def js(self, expression: str):
        return self.page.evaluate(expression)

    def clean(self):
        assert not self.failures, self.failures
        assert not self.errors, self.errors

    def close(self):
        self.page.close()


@pytest.fixture
def visit(browser, url):
    opened = []

    def open_(hash_: str = ""):
        v = Visit(browser, url + hash_)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


def test_both_months_load_without_errors(visit):
    v = visit()
    assert v.tiles("left") and v.tiles("right")
    assert not v.tiles("change") and not v.tiles("flags")      # shown only when asked for
    v.clean()
    assert v.js("document.querySelector('link[rel=icon]').getAttribute('href')") == "favicon.svg"
    labels = v.page.locator(".syntheo-label")
    assert labels.all_inner_texts() == ["July 2018", "August 2018"]
    assert v.page.locator(".leaflet-control-scale-line").is_visible()
    assert v.page.locator("button.syntheo-fullscreen").is_visible()
    # every zoom, out to the whole map and in beyond the pyramids (overzoom), at the data's corner: no failing
    # request, since each layer is limited to its bounds and zooms
    corner = "syntheoViewer.layers.left.month.options.bounds.getNorthWest()"
    for zoom in ("getMinZoom()", "getMaxZoom()"):
        v.js(f"syntheoViewer.map.setView({corner}, syntheoViewer.map.{zoom}, {{animate: false}})")
        v.settle()
    assert v.js("syntheoViewer.map.getZoom()") == 13 and len(v.tiles("left")) > 4
    v.clean()


def _clip_x(v, selector: str) -> tuple[float, float]:
    """(left, right) of a clip rect, container pixels."""
    clip = v.js(f"document.querySelector('{selector}').style.clip")
    top, right, bottom, left = (float(n) for n in re.findall(r"-?[\d.]+", clip))
    origin = v.js("syntheoViewer.map.containerPointToLayerPoint([0, 0]).x")
    return left - origin, right - origin


def test_dragging_the_swipe_bar_moves_the_clip(visit):
    v = visit()
    width, height = VIEWPORT["width"], VIEWPORT["height"]
    assert abs(_clip_x(v, ".syntheo-left-month")[1] - width / 2) < 2
    divider = v.page.locator(".leaflet-sbs-divider").bounding_box()
    x0 = divider["x"] + divider["width"] / 2
    v.page.mouse.move(x0, height / 2)
    v.page.mouse.down()
    v.page.mouse.move(width * 0.25, height / 2, steps=8)
    v.page.mouse.up()
    left_clip, right_clip = _clip_x(v, ".syntheo-left-month"), _clip_x(v, ".syntheo-right-month")
    assert left_clip[1] < width * 0.3 and abs(left_clip[1] - right_clip[0]) < 1
    assert abs(_clip_x(v, ".syntheo-left-month")[1] - _clip_x(v, "#map .leaflet-syntheo-left-pane")[1]) < 1
    divider = v.page.locator(".leaflet-sbs-divider").bounding_box()
    assert abs(divider["x"] + divider["width"] / 2 - left_clip[1]) < 3
    v.page.wait_for_function("() => /swipe=0\\.2\\d\\d/.test(location.hash)")
    v.clean()


def test_url_keeps_the_view_and_reload_restores_it(visit):
    v = visit()
    zoom = v.js("syntheoViewer.map.getZoom()")
    v.page.locator(".leaflet-control-zoom-in").click()
    v.page.wait_for_function(f"() => syntheoViewer.map.getZoom() === {zoom + 1}")
    v.page.mouse.move(600, 400)                     # pan by dragging the map (away from the swipe handle)
    v.page.mouse.down()
    v.page.mouse.move(540, 350, steps=5)
    v.page.mouse.up()
    range_ = v.page.locator(".leaflet-sbs-range")
    range_.evaluate("r => { r.value = '0.7'; r.dispatchEvent(new Event('input')) }")
    v.page.wait_for_function(f"() => location.hash.startsWith('#map={zoom + 1}/') && "
                             "location.hash.includes('swipe=0.700')")
    before = v.js("[syntheoViewer.map.getCenter().lat, syntheoViewer.map.getCenter().lng]")
    hash_ = v.js("location.hash")
    v.page.reload()
    v.settle()
    assert v.js("location.hash") == hash_
    assert v.js("syntheoViewer.map.getZoom()") == zoom + 1
    after = v.js("[syntheoViewer.map.getCenter().lat, syntheoViewer.map.getCenter().lng]")
    np.testing.assert_allclose(after, before, atol=1e-3)
    assert range_.input_value() == "0.7"
    assert abs(_clip_x(v, ".syntheo-left-month")[1] - v.js("syntheoViewer.swipe.getPosition()")) < 1
    v.clean()


def test_change_layer_legend_and_flags(visit):
    v = visit()
    legend = v.page.locator(".syntheo-legend")
    assert not legend.is_visible()
    v.page.locator("label", has_text="NDVI change").nth(1).click()       # right side
    v.settle()
    assert v.tiles("change") and legend.is_visible()
    assert "NDVI change, August 2018 \u2212 July 2018" in legend.inner_text()
    assert v.page.locator(".syntheo-label-right").inner_text() == "NDVI change"
    assert v.js("syntheoViewer.map.hasLayer(syntheoViewer.layers.right.change)")
    assert not v.js("syntheoViewer.map.hasLayer(syntheoViewer.layers.right.month)")
    v.page.locator("#syntheo-flags").check()
    v.settle()
    assert v.tiles("left/flags") and v.tiles("right/flags")
    v.page.wait_for_function("() => location.hash.includes('right=change') && location.hash.includes('flags=1')")
    v.page.locator("label", has_text="NDVI change").nth(0).click()       # change on the left too
    v.page.locator("label", has_text="August 2018").click()
    v.settle()
    assert v.page.locator(".syntheo-label-left").inner_text() == "NDVI change"
    assert legend.is_visible()
    v.clean()


def _screenshot(page, path: Path | None = None) -> np.ndarray:
    """RGB (rows, cols, 3) of the page; also saved as ``path`` when given."""
    import rasterio
    from rasterio.io import MemoryFile

    data = page.screenshot()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    with MemoryFile(data) as mem, mem.open() as ds:
        assert isinstance(ds, rasterio.io.DatasetReader)
        return np.moveaxis(ds.read()[:3], 0, -1)


def test_screenshot(visit):
    """Where the months differ, the swipe shows July on one side and August on the other; docs/viewer.png."""
    scene = vd.landscape()
    harvested = [p for p in scene.parcels if p.july == "crop" and p.august == "harvested" and p.cols[0] > 60]
    same = [p for p in scene.parcels if p.july == p.august == "forest" and p.cols[0] > 60]
    v = visit("#swipe=1")
    points = {}
    for name, parcel in (("harvested", harvested[0]), ("same", same[0])):
        lon, lat = vd.pixel_lonlat(*parcel.centre)
        p = v.js(f"syntheoViewer.map.latLngToContainerPoint([{lat}, {lon}])")
        assert 40 < p["x"] < VIEWPORT["width"] - 40 and 0 < p["y"] < VIEWPORT["height"]
        points[name] = (int(p["y"]), int(p["x"]))
    july = _screenshot(v.page)
    v.js("(() => { const r = document.querySelector('.leaflet-sbs-range'); r.value = '0';"
         " r.dispatchEvent(new Event('input')) })()")
    august = _screenshot(v.page)
    diff = np.abs(july.astype(int) - august.astype(int)).max(axis=-1)
    assert diff[points["harvested"]] > 30           # a harvested field: green in July, brown in August
    assert diff[points["same"]] <= 2                # an unchanged forest: the same colour
    v.clean()

    # the documented view: July on the left, the NDVI change on the right, with its legend
    v = visit("#swipe=0.5&left=month&right=change&flags=0")
    shot = _screenshot(v.page, SCREENSHOT)
    assert SCREENSHOT.stat().st_size < 200_000
    assert shot.std() > 20                                              # not blank
    half = shot.shape[1] // 2
    left, right = shot[:, half - 150:half - 10], shot[:, half + 10:half + 150]
    assert np.abs(left.astype(int) - right.astype(int)).mean() > 20    # the two halves differ
    v.clean()
