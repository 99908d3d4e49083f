"""The ``l2a`` command line: product information, the scene simulator (and later the L1C -> L2A core)."""

from __future__ import annotations

import json
import sys

import click

from .cli_options import (
    ProgressContext,
    common_options,
    indent_option,
    run_cli,
    setup_logging,
)

PROG = "l2a"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options(PROG)
@click.pass_context
def cli(ctx, verbose: int, quiet: bool):
    """Sentinel-2 Level-2A products: inspect, simulate."""
    setup_logging(verbose, quiet)
    ctx.obj = ProgressContext(quiet=quiet)


@cli.command()
@click.argument("path", type=click.Path(exists=False, dir_okay=True, file_okay=True))
@click.option("--sre", is_flag=True, help="Theia products: describe SRE instead of FRE reflectance.")
@indent_option
def info(path: str, sre: bool, indent: int | None):
    """Print a one-line JSON summary of one L2A product (folder or .zip): format, platform, tile, date, CRS,
    bands and shapes, and cloud/snow/water/nodata percentages read from its masks."""
    from .detect import open_l2a
    from .info import product_summary

    with open_l2a(path, reflectance="SRE" if sre else "FRE") as product:
        summary = product_summary(product)
    click.echo(json.dumps(summary, indent=indent))


from .simulate.cli import simulate  # noqa: E402  (click only; the simulator loads when the command runs)

cli.add_command(simulate)


def main(argv=None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, PROG, argv))
