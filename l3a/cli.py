"""The ``l3a`` command line: monthly weighted syntheses of L2A products."""

from __future__ import annotations

import sys

import click

from l2a.cli_options import ProgressContext, common_options, run_cli, setup_logging

PROG = "l3a"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options(PROG)
@click.pass_context
def cli(ctx, verbose: int, quiet: bool):
    """Level-3A monthly syntheses (WASP-style weighted averages of L2A surface reflectance)."""
    setup_logging(verbose, quiet)
    ctx.obj = ProgressContext(quiet=quiet)


def main(argv=None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, PROG, argv))
