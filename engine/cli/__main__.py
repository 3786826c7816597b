"""`python -m engine.cli`: the `verbinder` command."""

from engine.cli.app import main

main()
