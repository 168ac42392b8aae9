"""Route templates that look internal or sensitive: admin, debug, export and ops surfaces.

A new route of this look answering a handful of clients matters even at a
volume a public route would need an hour to show (new_endpoint): it is how an
internal tool or a data export leaks out with a deploy. The judgement is by
whole words of the template's literal segments (split at ``/ - _ .`` and
camelCase), so ``/v1/exports/{id}`` is an export and ``/v1/experts`` is not.
"""

from __future__ import annotations

import re

# Words whose presence makes a route look internal or sensitive; a plural
# ("exports", "backups") counts as its singular.
SENSITIVE_WORDS = frozenset({
    # internal tooling and back offices
    "internal", "private", "admin", "administrator", "administration", "superuser", "sudo",
    "impersonate", "console", "backoffice", "staff", "mgmt", "management", "ops", "audit",
    # debugging and runtime introspection
    "debug", "actuator", "pprof", "heapdump", "threaddump", "jolokia", "jmx", "phpinfo",
    "introspection", "graphiql", "playground", "shell", "exec", "eval",
    # operations and monitoring
    "metrics", "prometheus",
    # data leaving in bulk, and configuration or secrets
    "export", "dump", "backup", "config", "configuration", "env", "environment", "secret",
    "credential",
})
_WORD_SEP = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(segment: str) -> list[str]:
    return [w.lower() for part in _WORD_SEP.split(segment) for w in _CAMEL.split(part) if w]


def sensitive_reason(route: str) -> str | None:
    """Why ``route`` looks internal or sensitive (the word and its segment), else None.

    Placeholders (``{id}``) say nothing; words are whole, plurals count.

    >>> sensitive_reason("/v1/exports/{id}")
    "export (segment 'exports')"
    >>> sensitive_reason("/internal/reindexJobs"), sensitive_reason("/_debug/vars")
    ("internal (segment 'internal')", "debug (segment '_debug')")
    >>> sensitive_reason("/v1/experts"), sensitive_reason("/v1/environmentalists/{id}")
    (None, None)
    """
    for segment in route.split("/"):
        if not segment or segment.startswith("{"):
            continue
        for word in _words(segment):
            stem = word if word in SENSITIVE_WORDS else word[:-1] if word.endswith("s") else ""
            if stem in SENSITIVE_WORDS:
                return f"{stem} (segment {segment!r})"
    return None
