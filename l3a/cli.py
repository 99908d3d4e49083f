"""The ``l3a`` command line: monthly weighted syntheses of L2A products."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from l2a.cli_options import ProgressContext, common_options, indent_option, run_cli, setup_logging
from l2a.errors import InvalidParameterError

from .dates import month_central_date, month_range
from .params import PROFILES, SUN_GEOMETRIES, cloud_bits_from_text

PROG = "l3a"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options(PROG)
@click.pass_context
def cli(ctx, verbose: int, quiet: bool):
    """Level-3A monthly syntheses (WASP-style weighted averages of L2A surface reflectance)."""
    setup_logging(verbose, quiet)
    ctx.obj = ProgressContext(quiet=quiet)


def _parse_month(_ctx, _param, value):
    if value is None:
        return None
    try:
        return month_central_date(value)
    except InvalidParameterError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_date(_ctx, _param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date as YYYY-MM-DD") from None


def _parse_cloud_bits(_ctx, _param, value):
    if value is None:
        return None
    try:
        return cloud_bits_from_text(value)
    except InvalidParameterError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_months(_ctx, _param, value):
    if value is None:
        return None
    try:
        return month_range(value)
    except InvalidParameterError as exc:
        raise click.BadParameter(str(exc)) from None


def _parse_tiles(_ctx, _param, value):
    if value is None:
        return None
    tiles = tuple(t for t in (v.strip() for v in value.split(",")) if t)
    if not tiles:
        raise click.BadParameter(f"{value!r} names no tile")
    return tiles


def _parse_bands(_ctx, _param, value):
    if value is None or value.strip().lower() == "all":
        return None
    return tuple(b for b in (v.strip() for v in value.split(",")) if b)


@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("--stac", "stac_sources", multiple=True, metavar="SOURCE",
              help="Sentinel-2 L2A STAC items to compose too: an Item or ItemCollection JSON file, a static "
                   "catalogue, or their URL (repeatable); assets are read as windows where they are.")
@click.option("--collection", default=None, metavar="ID",
              help="With --stac URL of a STAC API: search this collection (sentinel-2-l2a) over the tile and window.")
@click.option("--max-cloud", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Skip STAC items whose eo:cloud_cover is above PCT %.")
@click.option("--tile", required=True, help="Tile to compose, e.g. T31TCJ (31TCJ accepted).")
@click.option("--month", callback=_parse_month, help="Monthly synthesis centred on the 15th: YYYY-MM.")
@click.option("--date", "central", callback=_parse_date, help="Central date YYYY-MM-DD (instead of --month).")
@click.option("--half-window", type=click.IntRange(0, 366), default=None,
              help="Half-width of the window, days (default 23).")
@click.option("--profile", type=click.Choice(list(PROFILES)), default="default", show_default=True,
              help="Parameter profile: the toolkit's, or CNES WASP 1.x choices.")
@click.option("--brdf/--no-brdf", default=None, help="Directional normalisation to nadir (default: on).")
@click.option("--sun", type=click.Choice(SUN_GEOMETRIES), default=None,
              help="Sun zenith the directional normalisation goes to: the central date's at each pixel (central, "
                   "the default profile's) or each date's own (observed, WASP's).")
@click.option("--cloud-bits", callback=_parse_cloud_bits, default=None,
              help="Theia CLM bits that mean cloud or shadow, bit numbers 0-7 such as 0 or 0,1,5,6,7, or all "
                   "(default 0: all clouds except the thinnest, and all shadows, as WASP).")
@click.option("--outlier-test/--no-outlier-test", default=None,
              help="Multi-temporal test rejecting clear observations that brighten in blue like haze or darken in "
                   "NIR and SWIR like a shadow against the pixel's other dates (default: on; off in the wasp "
                   "profile).")
@click.option("--bands", callback=_parse_bands, default="all", show_default=True,
              help="Bands to compose: all (those every input has) or a list such as B2,B3,B4,B8.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--threads", type=click.IntRange(1, 512), default=None, help="Threads (default: all cores).")
@click.option("--block-rows", type=click.IntRange(24, 10980), default=None,
              help="Rows of 10 m pixels per block (bounds memory; default 1024).")
@click.option("--deflate-level", type=click.IntRange(1, 12), default=None,
              help="DEFLATE level of every output COG, 1 fastest .. 12 smallest; default 1 for FRC and WGT "
                   "(noisy 16-bit data, on which level 6 saves little or nothing at twice the CPU), 6 for DTS, FLG "
                   "and NOB.")
@click.option("--overwrite", is_flag=True, help="Replace an existing product.")
@click.pass_obj
def compose(obj, inputs, stac_sources, collection, max_cloud, tile, month, central, half_window, profile, brdf, sun, cloud_bits,
            outlier_test, bands, out_dir, threads, block_rows, deflate_level, overwrite):
    """Compose the weighted synthesis of one tile from L2A products (folders or .zip, Theia or Sen2Cor, or folders
    holding them) and STAC items (--stac). Prints the product folder's absolute path on the last line."""
    import contextlib
    import dataclasses
    import datetime as dt

    from l2a.detect import find_products

    from .compose import DEFAULT_BLOCK_ROWS, compose as run
    from .errors import EmptyWindowError

    if (month is None) == (central is None):
        raise click.UsageError("give exactly one of --month and --date")
    params = PROFILES[profile]
    changes = {}
    if half_window is not None:
        changes["half_window_days"] = half_window
    if brdf is not None:
        changes["brdf"] = brdf
    if sun is not None:
        changes["sun"] = sun
    if cloud_bits is not None:
        changes["cloud_bits"] = cloud_bits
    if outlier_test is not None:
        changes["outlier_test"] = outlier_test
    if changes:
        params = dataclasses.replace(params, **changes)
    if not inputs and not stac_sources:
        raise click.UsageError("give L2A products (INPUTS) or STAC items (--stac)")
    paths = list(find_products(inputs)) if inputs else []
    if collection is not None and not stac_sources:
        raise click.UsageError("--collection searches the STAC API given with --stac URL")
    with contextlib.ExitStack() as stack:
        if stac_sources or any(str(p).lower().endswith(".json") for p in paths):
            from l2a.formats.stac.remote import remote_env

            # remote assets: GDAL's retries, timeout and block cache, for the assets' headers and their pixels
            stack.enter_context(remote_env())
        if stac_sources:
            from l2a.formats.stac import open_stac

            central_date = month or central
            margin = dt.timedelta(days=params.half_window_days + 1)  # only the items of the window are opened
            start = dt.datetime.combine(central_date - margin, dt.time(), dt.timezone.utc)
            end = dt.datetime.combine(central_date + margin, dt.time(), dt.timezone.utc)
            paths += open_stac(stac_sources, max_cloud=max_cloud, tiles=[tile], start=start, end=end,
                               collection=collection)
        if not paths:
            raise EmptyWindowError("no L2A product among the inputs: " + " ".join([*inputs, *stac_sources]))
        path = run(paths, month or central, params, out_dir, tile=tile, bands=bands, threads=threads,
                   block_rows=block_rows or DEFAULT_BLOCK_ROWS, overwrite=overwrite, show_progress=obj.show_progress,
                   deflate_level=deflate_level)
    click.echo(str(path))


@cli.command()
@click.option("--input-root", "input_roots", multiple=True, type=click.Path(file_okay=False),
              help="Folder holding L2A products of any format l2a reads (L1C with --level l1c; repeatable).")
@click.option("--stac", "stac_sources", multiple=True, metavar="SOURCE",
              help="Sentinel-2 L2A STAC items too: Item, ItemCollection or catalogue files or URLs, or with "
                   "--collection a STAC API URL (repeatable); staged in OUT/stac-items, assets read by the workers.")
@click.option("--collection", default=None, metavar="ID",
              help="With --stac URL of a STAC API: search this collection over the tiles (or --aoi) and months.")
@click.option("--tiles", callback=_parse_tiles, default=None, metavar="T31TCJ,...",
              help="Tiles to compose (31TCJ accepted).")
@click.option("--aoi", type=click.Path(dir_okay=False), default=None, metavar="AREA.geojson",
              help="Compose the tiles found whose MGRS footprint intersects these polygons (longitude/latitude).")
@click.option("--months", required=True, callback=_parse_months, metavar="YYYY-MM..YYYY-MM",
              help="Months to compose, first and last inclusive, or one month YYYY-MM; each centred on its 15th.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--profile", type=click.Choice(list(PROFILES)), default="default", show_default=True,
              help="Synthesis parameter profile.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Address of a running dask scheduler (tcp://host:8786) whose workers offer the resource "
                   "tile-month=1; default: a local cluster.")
@click.option("--scheduler-timeout", type=click.FloatRange(0.1, 3600.0), default=10.0, show_default=True,
              metavar="SECONDS",
              help="Seconds to wait for the scheduler to answer.")
@click.option("--workers", type=click.IntRange(1, 4096), default=None,
              help="Worker processes of the local cluster (default: as many as cores / threads, tasks and memory "
                   "allow).")
@click.option("--threads-per-worker", type=click.IntRange(1, 512), default=None,
              help="Threads of each local worker, all given to its one synthesis at a time (default 1).")
@click.option("--memory-limit", type=click.FloatRange(0.1, None), default=None, metavar="GB",
              help="Memory limit of each local worker, GB (10^9 bytes); default: the machine's memory shared "
                   "among the workers. A 10 m tile-month needs 2 GiB.")
@click.option("--dashboard", is_flag=True, help="Serve dask's dashboard and print its link.")
@click.option("--overwrite", is_flag=True, help="Recompose products that exist (default: keep them).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Run report (JSON); default OUT/batch-report.json.")
@click.option("--level", type=click.Choice(["l2a", "l1c"]), default="l2a", show_default=True,
              help="l1c: the inputs are Level-1C products, each tile's dates processed in order by `l2a process` "
                   "as one task, the syntheses depending on it.")
@click.option("--l2a-out", "l2a_dir", type=click.Path(file_okay=False), default=None,
              help="With --level l1c: folder of the L2A products (default OUT/l2a).")
@click.option("--dem", "dems", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="With --level l1c: DEMs for `l2a process` (repeatable).")
@click.option("--max-cloud", type=click.FloatRange(0, 100), default=90.0, show_default=True, metavar="PCT",
              help="With --level l1c: no L2A product for a date more than PCT % cloud or shadow; with --stac: "
                   "items whose eo:cloud_cover is above PCT are left out.")
@click.pass_obj
def batch(obj, input_roots, stac_sources, collection, tiles, aoi, months, out_dir, profile, scheduler,
          scheduler_timeout, workers, threads_per_worker, memory_limit, dashboard, overwrite, report_path, level,
          l2a_dir, dems, max_cloud):
    """Compose every (tile, month) of many tiles and months on dask.distributed: one task per tile-month, the
    products of the tile within the month's window (central date the 15th, +- the profile's half-window), each
    worker composing one tile-month at a time. Finished products are kept on a rerun. Writes a JSON run report
    (per task: status, inputs, seconds, peak memory, worker) and prints its path on the last line; exit code 1 when
    a task failed, 130 when interrupted (Ctrl-C: a partial report is written; rerun to resume)."""
    from .batch import BatchParams, exit_code, run_batch
    from .batch.run import BatchInterrupted

    if (tiles is None) == (aoi is None):
        raise click.UsageError("give exactly one of --tiles and --aoi")
    if not input_roots and not stac_sources:
        raise click.UsageError("give --input-root folders or --stac sources")
    if collection is not None and not stac_sources:
        raise click.UsageError("--collection searches the STAC API given with --stac URL")
    if stac_sources and level != "l2a":
        raise click.UsageError("--stac takes L2A items: not with --level l1c")
    if scheduler is not None and (workers is not None or threads_per_worker is not None or memory_limit):
        raise click.UsageError("--workers, --threads-per-worker and --memory-limit set up a local cluster; a "
                               "scheduler's workers are set up where they are started")
    params = BatchParams(workers=workers, threads_per_worker=threads_per_worker or 1,
                         memory_limit_bytes=None if memory_limit is None else int(memory_limit * 1e9),
                         scheduler=scheduler, scheduler_timeout_s=scheduler_timeout, dashboard=dashboard,
                         overwrite=overwrite)

    def announce(setup):
        if setup.dashboard:
            click.echo(f"dashboard: {setup.dashboard}", err=True)

    try:
        if level == "l2a" and (l2a_dir or dems):
            raise click.UsageError("--l2a-out and --dem go with --level l1c")
        process_params = None
        if level == "l1c":
            from l2a.process import ProcessParams

            process_params = ProcessParams(max_cloud_pct=max_cloud)
        if stac_sources:
            from l2a.formats.stac.remote import remote_env

            from .batch.area import read_area
            from .batch.stac import stage_items

            with remote_env():
                staged = stage_items(stac_sources, out_dir, months, PROFILES[profile].half_window_days,
                                     collection=collection, tiles=tiles, area=read_area(aoi) if aoi else None,
                                     max_cloud=max_cloud)
            input_roots = (*input_roots, str(staged))
        report = run_batch(input_roots, out_dir, months, tiles=tiles, area=aoi, params=PROFILES[profile],
                           batch=params, report_path=report_path, show_progress=obj.show_progress, announce=announce,
                           level=level, l2a_dir=l2a_dir, process_params=process_params, dem=list(dems) or None)
    except BatchInterrupted as exc:  # one line, the partial report named; the cluster is closed already
        done = sum(1 for r in exc.records if r["status"] != "interrupted")
        where = f"; partial report {exc.report['report']}" if exc.report else ""
        click.echo(f"{PROG}: interrupted: {done} of {len(exc.records)} tasks finished{where}; run the same command "
                   "again to resume", err=True)
        sys.exit(130)
    totals = report["totals"]
    click.echo(f"{totals['tasks']} tasks: {totals['written']} written, {totals['exists']} exist, "
               f"{totals['no-data']} without data, {totals['failed']} failed"
               + (f", {totals['unreadable']} unreadable products" if totals["unreadable"] else ""))
    click.echo(report["report"])
    code = exit_code(report)
    if code:
        sys.exit(code)


@cli.command()
@click.argument("path", type=click.Path())
@indent_option
def info(path, indent):
    """Print a one-line JSON summary of an L3A product: tile, central date, bands, grids, class percentages."""
    from .info import l3a_summary
    from .product import open_l3a

    click.echo(json.dumps(l3a_summary(open_l3a(path)), indent=indent))


@cli.command()
@click.argument("path", type=click.Path())
@click.option("--truth", "truth_dir", required=True, type=click.Path(),
              help="Folder written by `l2a simulate` (or its truth/ folder) holding the inputs' ground truth.")
@click.option("--slow-change-max", type=click.FloatRange(0.0, 2.0, min_open=True), default=0.05, show_default=True,
              help="Pixels whose per-date nadir truth varies less than this within the window are 'slow'.")
@click.option("--summary", is_flag=True, help="Print only the summary: worst figures, targets, which are met.")
@click.option("--check", is_flag=True, help="Exit 1 when a figure misses its target (the JSON is printed anyway).")
@indent_option
def validate(path, truth_dir, slow_change_max, summary, check, indent):
    """Compare an L3A synthesis of simulated products with the simulator's ground truth.

    Prints JSON: per band, |FRC - true reflectance on the central date| over land pixels (median, 99th percentile;
    pixels whose per-date nadir truth changes little and fast-changing ones apart); the fraction of land pixels
    that average a truly cloudy or shadowed observation with a weight share above 5 % (leak rate, from the weights
    recomputed from the L2A products in the simulation folder); per swath edge and band, the signed step of FRC
    across the edge minus the truth's (seam, reflectance units); FLG agreement per class (land, snow, water, cloud)
    with the classes the synthesis rules give on the true classes. --check and --summary follow the targets
    (l3a.validate.TARGETS).
    """
    from .validate import ValidationParams, validate_synthesis

    result = validate_synthesis(path, truth_dir, ValidationParams(slow_change_max=slow_change_max))
    shown = {"product": result["product"], **result["summary"]} if summary else result
    click.echo(json.dumps(shown, indent=indent))
    if check and not all(v for v in result["summary"]["met"].values() if v is not None):
        sys.exit(1)


def main(argv=None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, PROG, argv))
