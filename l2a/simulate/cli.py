"""The ``l2a simulate`` command. Parses options, builds a :class:`~l2a.simulate.driver.SimulationConfig`, runs it.

Only click is imported at module level, so ``l2a --help`` stays fast; numba and the simulator load when the command
runs.
"""

from __future__ import annotations

import click

__all__ = ["simulate"]

_DEFAULT_SIZE = 1098       # keep equal to l2a.simulate.driver.DEFAULT_SIZE (not imported: it loads numba)


@click.command("simulate", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, dir_okay=True),
              help="Output folder: products directly inside, ground truth in OUT/truth/.")
@click.option("--tiles", default=None, metavar="T31TCJ,...",
              help="Comma-separated MGRS tiles (31TCJ accepted). Default: T30TYN,T30TYP,T31TCH,T31TCJ, a block "
                   "across the UTM 30/31 zone boundary.")
@click.option("--start", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="First UTC day (inclusive).")
@click.option("--end", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Last UTC day (inclusive).")
@click.option("--level", type=click.Choice(["l2a", "l1c"]), default="l2a", show_default=True,
              help="l2a: Theia-format L2A products (FRE, masks, ATB); l1c: ESA L1C SAFE products (TOA, JPEG 2000).")
@click.option("--size", type=int, default=None, metavar="PIXELS",
              help=f"Pixels per tile side for the 10 m bands (10980 = true 10 m; 1098 = 100 m pixels); the tile "
                   f"footprint stays real, 20 m bands get SIZE/2 pixels, 60 m bands SIZE/6. Even, 20..10980; a "
                   f"multiple of 6 for l1c. [default: {_DEFAULT_SIZE}; 10980 with --window]")
@click.option("--window", default=None, metavar="XOFF,YOFF,WIDTH,HEIGHT",
              help="Simulate only this window of each tile, in 10 m pixels of the whole 10980 x 10980 tile, at the "
                   "true 10 m / 20 m pixel sizes; products and truth are crops of the tile. Even values "
                   "(multiples of 6 for l1c).")
@click.option("--mask-quality", type=click.Choice(["perfect", "maja", "sen2cor"]), default="maja",
              show_default=True,
              help="Errors of the simulated L2A masks: missed thin clouds and edges, misplaced shadows, dark "
                   "surfaces taken for shadow, shadows for water, snow/cloud confusion, false clouds, at the "
                   "rates of the MAJA or Sen2Cor processors (overall accuracy ~91 % / ~84 %); perfect: masks "
                   "without errors.")
@click.option("--atmosphere", type=click.Choice(["6s", "analytic"]), default=None,
              help="Forward model of the clear sky: 6s (the 6S table that `l2a process` inverts: retrieval errors "
                   "come from aerosols, masks and noise only) or analytic (a SMAC-like model, physics the processor "
                   "does not share). [default: 6s for l1c, analytic for l2a]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the world, the weather and the noise: same seed, same bytes.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Parallel tasks (threads). Default: the CPUs available. Outputs do not depend on it.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def simulate(ctx, out_dir, tiles, start, end, level, size, window, mask_quality, atmosphere, seed, workers, quiet):
    """Simulate Sentinel-2 products of several tiles with their ground truth.

    S2A and S2B passes on the real schedule: each relative orbit every 5 days, the platforms in turn, adjacent
    orbits 3 and 7 days apart (the default tiles are seen by two overlapping orbits, with slanted swath edges).
    One procedural world is shared by all tiles (crops with phenology, forests, towns, lakes, rivers, a
    mountain range with melting snow, clouds at three heights with their shadows, haze). The L2A masks carry the
    errors of a real processor (--mask-quality) and the ground has its own directional reflectance per land cover.
    Each product is written atomically into OUT; an interrupted run can be resumed (existing products are kept).
    """
    from l2a.errors import InvalidParameterError

    from .driver import MAX_SIZE, SimulationConfig, default_workers, parse_window
    from .driver import simulate as run
    from .mgrs import parse_tiles

    quiet = quiet or bool(getattr(ctx.obj, "quiet", False))
    window = parse_window(window)
    if window is not None and size is not None and size != MAX_SIZE:
        raise InvalidParameterError(f"--size {size} with --window: a window is simulated at the true 10 m pixels "
                                    f"(size {MAX_SIZE}); leave --size out")
    if size is None:
        size = MAX_SIZE if window is not None else _DEFAULT_SIZE
    config = SimulationConfig(out_dir=out_dir, start=start.date(), end=end.date(), tiles=parse_tiles(tiles),
                              level=level, size=size, seed=seed, workers=workers or default_workers(),
                              mask_quality=mask_quality, window=window, atmosphere=atmosphere)
    result = run(config, quiet=quiet)
    if not quiet:
        click.echo(f"{len(result.products)} {level.upper()} products in {out_dir}; ground truth index "
                   f"{result.index}", err=True)
