"""Errors any layer may raise about what the user gave, with no dependency of its own.

The command line turns them into one line on stderr and exit 2; a stage raising one
needs nothing from ``detector.cli`` (which sits on top of every stage).
"""

from __future__ import annotations


class UsageError(ValueError):
    """A flag or argument that cannot work; reported in one line, exit 2.

    >>> raise UsageError("--workers 0: at least 1")
    Traceback (most recent call last):
    ...
    detector.errors.UsageError: --workers 0: at least 1
    """
