"""``python -m mosaicfast`` runs the command line."""

from .cli import main

main()
