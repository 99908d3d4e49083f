"""The ``mosaic`` command line: national mosaics, tile pyramids, comparison viewer."""

from __future__ import annotations

import sys

import click

from l2a.cli_options import ProgressContext, common_options, run_cli, setup_logging

PROG = "mosaic"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@common_options(PROG)
@click.pass_context
def cli(ctx, verbose: int, quiet: bool):
    """Country mosaics of L3A syntheses, web tile pyramids and the side-by-side viewer."""
    setup_logging(verbose, quiet)
    ctx.obj = ProgressContext(quiet=quiet)


def main(argv=None) -> None:
    """Console-script entry point."""
    sys.exit(run_cli(cli, PROG, argv))
