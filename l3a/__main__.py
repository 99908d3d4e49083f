"""``python -m l3a`` runs the ``l3a`` command line."""

from .cli import main

main()
