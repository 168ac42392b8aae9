"""The ``detector`` command line (CONTRACTS §4)."""

from __future__ import annotations

from detector.cli.app import app, main

__all__ = ["app", "main"]
