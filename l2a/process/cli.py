"""The ``l2a process`` command (click only at import: the processor loads when the command runs)."""

from __future__ import annotations

import click

__all__ = ["process"]


def _aot(value: str):
    if value == "auto":
        return None
    try:
        return float(value)
    except ValueError:
        raise click.BadParameter(f"expected 'auto' or a number, not {value!r}") from None


@click.command("process", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, dir_okay=True),
              help="Folder of the L2A products.")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True,
              help="Threads for the per-pixel correction and the compression.")
@click.option("--overwrite", is_flag=True, help="Replace existing products (they are skipped otherwise).")
@click.option("--aot", "aot", default="auto", show_default=True, metavar="auto|VALUE",
              help="Aerosol optical thickness at 550 nm: estimated from dark vegetation, or this value everywhere.")
@click.option("--max-cloud", type=click.FloatRange(0, 100), default=90.0, show_default=True, metavar="PCT",
              help="No product when more than PCT % of the observed pixels are cloud or shadow (100: always one).")
@click.option("--dem", "dems", multiple=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="Terrain altitude (m), any raster in any CRS (SRTM, Copernicus DEM, a VRT; the simulator's "
                   "truth/TILE/TILE_DEM_R2.tif): surface pressure and the cirrus test's altitude term. Repeat it for "
                   "several; each tile takes the one covering most of it. Default: flat ground at sea level.")
def process(inputs, out_dir, threads, overwrite, aot, max_cloud, dems):
    """Level-1C SAFE products (folders or zips, or folders holding them) -> Theia-format Level-2A products.

    Single-date processing (MAJA's methods without the multi-temporal tests): masks of clouds, cirrus, cloud
    shadows, snow and water on a 240 m grid refined to 10/20 m, aerosols from dark vegetation, water vapour from
    B9/B8A, atmospheric correction with the toolkit's 6S table. Inputs are processed by tile then date; each
    product is written atomically. Products that would not be valid (sun zenith > 80 degrees, too cloudy) are not
    written: a warning names the input and the run goes on. Exit code 0 unless nothing at all was written.
    """
    from .params import ProcessParams
    from .run import process_l1c

    params = ProcessParams(aot=_aot(aot), max_cloud_pct=max_cloud)

    def report(result):
        if result.status == "skipped":
            click.echo(f"l2a process: warning: {result.source}: skipped: {result.reason}", err=True)
        elif result.status == "exists":
            click.echo(f"exists  {result.product} (kept; --overwrite replaces it)", err=True)
        else:
            f = result.figures
            click.echo(f"written {result.product} (cloud {f['cloud_pct']:.1f} %, AOT {f['aot_mean']}, water vapour "
                       f"{f['water_vapour_mean']} g/cm2, {f['seconds']:.1f} s)", err=True)

    results = process_l1c(inputs, out_dir, params, overwrite=overwrite, threads=threads, dem=list(dems),
                          on_result=report)
    if not any(r.status in ("written", "exists") for r in results):
        click.echo("l2a process: no product written", err=True)
        raise click.exceptions.Exit(1)
