"""The ``mosaic`` command line: national mosaics, tile pyramids, comparison viewer."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys

import click

from l2a.cli_options import ProgressContext, common_options, indent_option, run_cli, setup_logging

# choice tables and defaults come from the library's light parameter module (no GDAL drivers, numba or shapely)
from .params import (DEFAULT_LIMIT, FLAGGED_STYLES, LAYOUTS, MAX_ZOOM, MERGE_METHODS, RESAMPLINGS, TILE_FORMATS, MosaicParams,
                     PyramidParams, Stretch)

PROG = "mosaic"


def _default(params_class, name: str):
    """Default of a field of a parameter dataclass of :mod:`mosaic.params`."""
    field = next(f for f in dataclasses.fields(params_class) if f.name == name)
    return field.default if field.default is not dataclasses.MISSING else field.default_factory()


_STRETCH = _default(PyramidParams, "stretch")


def _workers_default() -> int:
    return max(1, os.cpu_count() or 1)


def _parse_bands(ctx, param, value: str):
    if value is None or value.strip().lower() == "all":
        return None
    bands = tuple(b.strip() for b in value.split(",") if b.strip())
    if not bands:
        raise click.BadParameter(f"{value!r}: expected 'all' or a comma-separated list such as B4,B3,B2")
    return bands


def _parse_zoom(ctx, param, value: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?", value or "")
    if not m:
        raise click.BadParameter(f"{value!r}: expected MIN-MAX (e.g. 5-13) or one zoom level")
    low = int(m.group(1))
    high = int(m.group(2)) if m.group(2) is not None else low
    if low > high:
        raise click.BadParameter(f"{value!r}: the range is inverted ({low} > {high})")
    return low, high


def _parse_stretch(ctx, param, value: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected LOW,HIGH reflectances such as 0,0.2") from None
    if not high > low:
        raise click.BadParameter(f"{value!r}: HIGH must be above LOW")
    return low, high


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options(PROG)
@click.pass_context
def cli(ctx, verbose: int, quiet: bool):
    """Country mosaics of L3A syntheses, web tile pyramids and the side-by-side viewer."""
    setup_logging(verbose, quiet)
    ctx.obj = ProgressContext(quiet=quiet)


@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("--crs", required=True, help="Target CRS (EPSG:2154 for France, EPSG:3035 for Europe...).")
@click.option("--res", "resolution", required=True, type=click.FloatRange(min=0, min_open=True),
              help="Output pixel size, target CRS units (m for projected CRSs): 10 to 1000 for previews.")
@click.option("--bands", default="all", callback=_parse_bands, show_default=True,
              help="Output bands in order, e.g. B4,B3,B2,B8, or 'all' (every band common to the inputs).")
@click.option("--cutline", type=click.Path(), default=None,
              help="GeoJSON polygon(s) to clip to (lon/lat, RFC 7946).")
@click.option("--buffer", "buffer_m", type=float, default=0.0, show_default=True,
              help="Buffer around the cutline, m (target CRS units); negative shrinks.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: mosaic.tif, flags.tif, mosaic.vrt, mosaic_STAC.json.")
@click.option("--workers", type=click.IntRange(min=1), default=_workers_default,
              help="Threads computing output blocks [default: number of cores].")
@click.option("--method", type=click.Choice(MERGE_METHODS), default=_default(MosaicParams, "method"), show_default=True,
              help="blend: weights WGT x feathering ramp; last: the last tile (by name) wins, no blending.")
@click.option("--feather", "feather_m", type=click.FloatRange(min=0), default=_default(MosaicParams, "feather_m"),
              show_default=True,
              help="Length of the feathering ramp from the edge of each tile's valid data, m.")
@click.option("--resampling", type=click.Choice(RESAMPLINGS), default=_default(MosaicParams, "resampling"),
              show_default=True,
              help="Reflectance resampling; auto: bilinear below 2x the source pixel, average beyond. FLG: nearest.")
@click.option("--allow-mixed-dates", is_flag=True, help="Accept inputs with different central dates (logged).")
@click.option("--month", default=None, metavar="YYYY-MM",
              help="Keep only the inputs of this month (when INPUTS hold several months).")
@click.option("--layout", type=click.Choice(LAYOUTS), default=_default(MosaicParams, "layout"), show_default=True,
              help="single: mosaic.tif + flags.tif; tiled: COG tiles + mosaic.vrt + STAC collection (resumable); "
                   f"auto: tiled above {_default(MosaicParams, 'tiled_above_px'):.0e} pixels.")
@click.option("--grid-tile", "grid_tile_px", type=click.IntRange(min=1), default=_default(MosaicParams, "grid_tile_px"),
              show_default=True, help="Side of the COG tiles of the tiled layout, pixels (a multiple of 512).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Compute on a running dask scheduler's workers (tcp://host:8786); they must see INPUTS and --out.")
@click.option("--overwrite", is_flag=True, help="Replace a mosaic already in --out.")
@indent_option
@click.pass_obj
def build(obj: ProgressContext, inputs, crs, resolution, bands, cutline, buffer_m, out_dir, workers, method,
          feather_m, resampling, allow_mixed_dates, month, layout, grid_tile_px, scheduler, overwrite, indent):
    """Mosaic L3A products of one month (any UTM zones) into one seamless grid. INPUTS are L3A product folders or
    folders holding them, or their STAC items (a product's *_STAC.json, an ItemCollection, a static catalogue, or
    the URL of one; assets read over HTTP). A tiled mosaic interrupted is resumed by the same command. Prints a one-line JSON
    summary."""
    from .build import build_mosaic

    params = MosaicParams(crs=crs, resolution=resolution, bands=bands, method=method, feather_m=feather_m,
                          resampling=resampling, cutline=cutline, buffer_m=buffer_m,
                          allow_mixed_dates=allow_mixed_dates, month=month, layout=layout, grid_tile_px=grid_tile_px)
    result = build_mosaic(inputs, out_dir, params, workers=workers, overwrite=overwrite,
                          show_progress=obj.show_progress, scheduler=scheduler)
    click.echo(json.dumps(result.summary(), indent=indent))


_SCHEDULER_HELP = ("Address of a running dask scheduler (tcp://host:8786) whose workers render the tiles; they must "
                   "offer the resource tile-month=1 and see the mosaic and --out under the same paths "
                   "[default: local threads].")


@cli.command()
@click.argument("mosaic", type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: {z}/{x}/{y}.png, flags/{z}/{x}/{y}.png, metadata.json.")
@click.option("--zoom", required=True, callback=_parse_zoom,
              help=f"Zoom levels MIN-MAX (e.g. 5-13), 0-{MAX_ZOOM}.")
@click.option("--format", "tile_format", type=click.Choice(tuple(TILE_FORMATS)),
              default=_default(PyramidParams, "format"), show_default=True, help="Tile encoding (WebP is lossless).")
@click.option("--stretch", default=f"{_STRETCH.low:g},{_STRETCH.high:g}", callback=_parse_stretch, show_default=True,
              help="Reflectances shown black and white, LOW,HIGH (reflectance, 0-1 scale).")
@click.option("--gamma", type=click.FloatRange(min=0, min_open=True), default=_STRETCH.gamma, show_default=True,
              help="Display gamma (dimensionless; > 1 brightens dark tones).")
@click.option("--rgb", "rgb_bands", default=",".join(_default(PyramidParams, "bands")), show_default=True,
              help="Mosaic bands shown as red, green, blue.")
@click.option("--flagged", type=click.Choice(FLAGGED_STYLES), default=_default(PyramidParams, "flagged"),
              show_default=True, help="How always-cloudy pixels are shown.")
@click.option("--workers", type=click.IntRange(min=1), default=_workers_default,
              help="Threads rendering tiles, without --scheduler [default: number of cores].")
@click.option("--scheduler", default=None, metavar="ADDRESS", help=_SCHEDULER_HELP)
@indent_option
@click.pass_obj
def tiles(obj: ProgressContext, mosaic, out_dir, zoom, tile_format, stretch, gamma, rgb_bands, flagged, workers,
          scheduler, indent):
    """Write the XYZ WebMercatorQuad tile pyramid of MOSAIC (a `mosaic build` output) and its flags overlay.
    Resumable: existing tiles are kept. Prints a one-line JSON summary."""
    from .tiles import build_pyramid

    rgb = tuple(b.strip() for b in rgb_bands.split(","))
    if len(rgb) != 3:
        raise click.BadParameter(f"{rgb_bands!r}: expected three bands such as B4,B3,B2", param_hint="--rgb")
    params = PyramidParams(min_zoom=zoom[0], max_zoom=zoom[1], format=tile_format,
                           stretch=Stretch(stretch[0], stretch[1], gamma), bands=rgb, flagged=flagged)
    result = build_pyramid(mosaic, out_dir, params, workers=workers, show_progress=obj.show_progress,
                           scheduler=scheduler)
    click.echo(json.dumps(result.summary(), indent=indent))


def main(argv=None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, PROG, argv))


# -- comparison viewer: `mosaic compare` and `mosaic serve` ------------------------------------------------------

def _parse_optional_zoom(ctx, param, value):
    return None if value is None else _parse_zoom(ctx, param, value)


@cli.command()
@click.argument("left", type=click.Path())
@click.argument("right", type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Site folder: index.html, the two months' pyramids, the change layer, the viewer's files.")
@click.option("--labels", nargs=2, default=None, metavar="LEFT RIGHT",
              help="Names of the two months, e.g. --labels \"July 2018\" \"August 2018\" "
                   "[default: from each mosaic's central date].")
@click.option("--zoom", default=None, callback=_parse_optional_zoom,
              help="Zoom levels MIN-MAX for tiling inputs that are mosaics (pyramids keep theirs) "
                   "[default: from the whole mosaic in one tile to its native zoom].")
@click.option("--limit", type=click.FloatRange(min=0, max=2, min_open=True), default=DEFAULT_LIMIT, show_default=True,
              help="NDVI difference (dimensionless) shown with the ends of the change layer's palette.")
@click.option("--overwrite", is_flag=True, help="Replace a site already in --out.")
@click.option("--workers", type=click.IntRange(min=1), default=_workers_default,
              help="Threads rendering tiles, without --scheduler [default: number of cores].")
@click.option("--scheduler", default=None, metavar="ADDRESS", help=_SCHEDULER_HELP)
@indent_option
@click.pass_obj
def compare(obj: ProgressContext, left, right, out_dir, labels, zoom, limit, overwrite, workers, scheduler, indent):
    """Write a static site comparing two months side by side: LEFT and RIGHT under a swipe bar, an NDVI change
    layer (RIGHT - LEFT), the flags overlays, the view in the URL. LEFT and RIGHT are `mosaic tiles` pyramids or
    mosaics (tiled into the site). Prints a one-line JSON summary; open the site with `mosaic serve OUT`."""
    from .compare import write_compare_site

    result = write_compare_site(left, right, out_dir, labels, zoom=zoom, limit=limit, overwrite=overwrite,
                                workers=workers, show_progress=obj.show_progress, scheduler=scheduler)
    summary = result.summary()
    summary["open"] = f"mosaic serve {out_dir}"
    click.echo(json.dumps(summary, indent=indent))


@cli.command()
@click.argument("site_dir", type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="TCP port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the folder to the network.")
def serve(site_dir, port, host):
    """Serve a `mosaic compare` site read-only over HTTP and print its URL (Ctrl+C stops)."""
    from .serve import make_server

    server = make_server(site_dir, host, port)
    click.echo(server.url)
    click.echo(f"serving {site_dir} read-only; Ctrl+C to stop", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
