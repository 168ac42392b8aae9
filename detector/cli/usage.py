"""How the command line presents itself: ``--help`` and usage errors.

:class:`DetectorGroup` is the root command's class (``typer.Typer(cls=DetectorGroup)``):

- usage errors (unknown option, bad value, missing argument, unknown command) are one
  line on stderr and exit 2, like every other usage error of ``detector``, instead of
  Typer's boxed message;
- the help shows each value as a word (``SPEC``, ``FILE``, ``N``), never a Python
  type (``<list[str]>``), and nothing after a flag;
- the program is called ``detector`` (also under ``python -m detector``), so usage
  lines and shell completion (``--install-completion``) name the installed command.

Help texts shared by several commands are here too, so every command lists the same
sink kinds and input formats.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from detector.decoding import FORMATS
from detector.sinks.registry import SCHEMES
from detector.terminal import printable

PROG = "detector"
EXIT_USAGE = 2

_SINK_ARGS = {"stdout": "", "jsonl": "PATH", "sqlite": "PATH", "kafka": "TOPIC",
              "webhook": "URL", "slack": "URL", "alertmanager": "URL",
              "pagerduty": "ROUTING_KEY"}
SINK_KINDS = tuple(f"{s}:{_SINK_ARGS[s]}" if _SINK_ARGS.get(s) else s for s in SCHEMES)
SINK_HELP = ("Where incidents go (repeatable): " + ", ".join(SINK_KINDS)
             + ". URLs and keys may be env:VAR or file:PATH.")
FORMAT_HELP = ("Input format: auto (detected per file), " + ", ".join(FORMATS[:-1])
               + f" or {FORMATS[-1]}.")

# The word shown for an option's value, by option name, where the name alone does
# not say it; other options get one from their type (TEXT, PATH, INTEGER, NUMBER).
_METAVARS = {
    "--config": "FILE", "--sink": "SPEC", "--format": "FORMAT", "--service": "NAME",
    "--deployments": "FILE", "--models": "DIR", "--dead-letter": "FILE", "--workers": "N",
    "--out": "DIR", "--output": "SPEC", "--name": "NAME", "--contamination": "SHARE",
    "--bootstrap-servers": "HOST:PORT", "--topic": "TOPIC", "--deployments-topic": "TOPIC",
    "--group-id": "NAME", "--retrain-every": "DURATION", "--state-dir": "DIR",
    "--metrics-port": "PORT", "--metrics-host": "HOST", "--dead-letter-topic": "TOPIC",
    "--checkpoint-every": "SECONDS", "--grace-period": "SECONDS",
    "--drain-when-idle": "SECONDS", "--idle-close-after": "SECONDS",
    "--retrain-sample": "N", "--model-check-every": "SECONDS",
    "--topic-service": "TOPIC=NAME", "--topic-format": "TOPIC=FORMAT",
    "--strip-schema-prefix": "TOPIC", "--db": "FILE", "--kind": "KIND",
    "--since": "TIME", "--status": "STATUS", "--limit": "N", "--hours": "HOURS",
    "--seed": "N", "--rate": "SCALE", "--profile": "NAME", "--lines": "N",
    "--kinds": "KINDS", "--json": "FILE", "--version": "VERSION", "--at": "TIME",
    "--environment": "NAME", "--revision": "REV",
}
_TYPE_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH",
               "file": "FILE", "directory": "DIR", "bool": "BOOLEAN"}


class _Argument(TyperArgument):
    """An argument whose help shows its name only (the name column says it all)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _type_word(param: TyperOption) -> str:
    display: Any = getattr(param, "display_type", None)
    try:
        label = str(display(None)).strip("<>")  # e.g. "list[str]", "int range"
    except Exception:  # an older Typer: its own rendering is used
        return ""
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    label = label.removesuffix(" range")
    return _TYPE_WORDS.get(label, label.upper())


def _commands(cmd: Any, help_names: list[str]) -> Iterator[tuple[Any, list[str]]]:
    """``cmd`` and its subcommands, each with the help option names its context gets
    (Click's context settings are inherited from the parent command's context)."""
    help_names = (cmd.context_settings or {}).get("help_option_names", help_names)
    yield cmd, help_names
    for sub in (getattr(cmd, "commands", None) or {}).values():
        yield from _commands(sub, help_names)


def tidy_help(root: Any) -> None:
    """Metavars for every parameter of ``root`` and its subcommands (idempotent)."""
    for cmd, help_names in _commands(root, ["--help"]):
        # Click makes the help option on first use: make it now (same names as its
        # context would give) so that it is tidied with the rest.
        cmd.get_help_option(SimpleNamespace(help_option_names=help_names))
        params = [*cmd.params, getattr(cmd, "_help_option", None)]
        for param in params:
            if isinstance(param, TyperArgument):
                if type(param) is TyperArgument:
                    param.__class__ = _Argument
                if param.metavar is None and param.name:
                    param.metavar = param.name.upper()
            elif isinstance(param, TyperOption) and param.metavar is None:
                if param.is_flag:
                    param.metavar = ""  # a flag takes no value: show none
                else:
                    long = max(param.opts, key=len)
                    param.metavar = _METAVARS.get(long) or _type_word(param) or None


def usage_error_line(exc: typer.TyperException) -> str:
    """A Typer/Click usage error as one line: the message and where to get help."""
    message = " ".join(exc.format_message().split())  # Click's own messages may wrap
    ctx = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return f"{PROG}: error: {printable(message)}{where}"


class DetectorGroup(TyperGroup):
    """The ``detector`` root command: one-line usage errors and tidy help."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        tidy_help(self)
        prog_name = prog_name or PROG
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode,
                                windows_expand_args, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, windows_expand_args,
                              **extra)
        except typer.TyperException as exc:
            if type(exc).__name__ != "NoArgsIsHelpError":  # that one has shown the help
                sys.stderr.write(usage_error_line(exc) + "\n")
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
        except typer.Abort:
            sys.stderr.write(f"{PROG}: error: aborted\n")
            sys.exit(1)
        # Not standalone, Typer returns the code of an Exit raised by the command, or
        # the command's return value (None here: every command exits by raising).
        sys.exit(rv if isinstance(rv, int) else 0)
