"""The ``l2a`` command line: product information, the scene simulator and the L1C -> L2A processor."""

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
    """Sentinel-2 Level-2A products: inspect, simulate, process from Level-1C."""
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


@cli.command()
@click.argument("product", type=click.Path(exists=True))
@click.option("--truth", required=True, type=click.Path(exists=True, file_okay=False),
              help="The simulation folder (or its truth/ folder) the product's L1C came from.")
@click.option("--summary", is_flag=True, help="Only the headline figures.")
@indent_option
def validate(product: str, truth: str, summary: bool, indent: int | None):
    """Judge an L2A product made from a simulated L1C against the simulator's truth: surface reflectance error per
    band over clear land, AOT error, cloud/shadow/snow/water confusion (one JSON document)."""
    from .validate import validate_l2a

    report = validate_l2a(product, truth)
    if summary:
        m = report["masks"]
        report = {"product": report["product"], "worst_reflectance_rmse": report["worst_reflectance_rmse"],
                  "aot_rmse": (report.get("aot") or {}).get("estimated", {}).get("rmse"),
                  "cloud_or_shadow_accuracy": m["cloud_or_shadow"]["overall_accuracy"],
                  "shadow_recall": m["shadow"]["recall"], "snow_f1": m["snow"]["f1"], "water_f1": m["water"]["f1"]}
    click.echo(json.dumps(report, indent=indent))


from .simulate.cli import simulate  # noqa: E402  (click only; the simulator loads when the command runs)

cli.add_command(simulate)

from .process.cli import process  # noqa: E402  (click only)

cli.add_command(process)


def main(argv=None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, PROG, argv))
