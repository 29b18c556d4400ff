"""``python -m switchboard`` runs the command line."""

from .cli import main

main()
