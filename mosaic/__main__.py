"""``python -m mosaic`` runs the ``mosaic`` command line."""

from .cli import main

main()
