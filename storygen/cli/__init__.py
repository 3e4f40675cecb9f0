"""python -m storygen: argument parsing and printing only."""

from storygen.cli.main import main

__all__ = ["main"]
