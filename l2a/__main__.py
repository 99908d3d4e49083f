"""``python -m l2a`` runs the ``l2a`` command line."""

from .cli import main

main()
