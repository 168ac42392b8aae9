"""One-line errors and exit codes (CONTRACTS §4): 0 ok, 1 findings (gates), 2 usage or input
error, 3 internal error (a bug), 4 inconclusive (verdicts); 128 + N stopped by signal N."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import typer

from detector.config import ConfigError
from detector.errors import UsageError
from detector.evaluate.matching import EvaluateInputError
from detector.models.registry import RegistryError
from detector.sinks.base import SinkError
from detector.sinks.delivery import SinkDeliveryError
from detector.sources.files import SourceError
from detector.terminal import printable

F = TypeVar("F", bound=Callable[..., Any])
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INCONCLUSIVE = 4

# Errors about what the user gave (flags, files, a model registry refused as untrusted or
# broken): exit 2, never "internal error".
USER_ERRORS = (ConfigError, SinkError, SinkDeliveryError, SourceError, RegistryError,
               EvaluateInputError)


def fail(message: str, code: int = EXIT_INPUT) -> typer.Exit:
    # One line, whatever the message quotes (a path, a value, a line of input).
    sys.stderr.write(f"detector: error: {printable(message)}\n")
    return typer.Exit(code)


def one_line_errors(fn: F) -> F:
    """Turn known errors into one-line messages; tracebacks only with --debug."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = bool(kwargs.get("debug"))
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except (*USER_ERRORS, UsageError) as exc:
            if debug:
                traceback.print_exc()
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug: say so in one line, keep the trace for --debug
            if debug:
                traceback.print_exc()
            raise fail(
                f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)", EXIT_INTERNAL
            ) from None

    return wrapper  # type: ignore[return-value]
