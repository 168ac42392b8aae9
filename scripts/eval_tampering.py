"""One-class quality of request analysis on real normal requests plus tampered copies (issue 10).

Train on normal requests only (``detector train``, in process, into a temporary
registry), then score held-out normal requests and tampered copies of them the
way ``detector scan --all`` does. No simulator output anywhere.

Corpora (from ``../shared/data``; each is skipped with a message when absent):

  apache     access_logs/apache_logs.log, a real site (combined format). Kept:
             status < 400, method GET/HEAD/POST, and not an obvious scanner line
             by a fixed rule (:data:`SCANNER_PATH` on the path and query,
             :data:`SCANNER_UA` on the user agent). Split by time: first 70 %
             train, last 30 % test.
  openstack  access_logs/loghub_openstack/OpenStack_2k.log, nova-api requests
             (service per WSGI server: nova-osapi, nova-metadata), same
             status rule, split by time 70/30.
  forms      a web application whose request structure is defined here (generic
             routes: registration and login form posts, a product page with a
             fixed-value submit button, a search box, an account page) and
             whose values are real: the normal values of
             httpparams/payload_train.csv, assigned to fields by their shape
             (:func:`value_shape`). The value pools are split 70/30 by value, so
             no test value was seen in training. Form posts are
             application/x-www-form-urlencoded; each client percent-encodes
             non-ASCII as Latin-1 or as UTF-8.

Anomalous requests: :class:`Tamperer` applies one class of tampering (with a
recorded subclass) to a held-out normal request: type_break, unknown_name,
missing_mandatory, method, unknown_resource, over_long, encoding (the classes
of issue 10). Payloads from payloads/payloads_combined.jsonl.gz placed in a
parameter make a separate ``attack`` class, reported apart from them.

Reported per corpus and pooled (one registry trained on every corpus): AUROC
and detection at 1 % false positives (threshold set on that set's held-out
normal requests), false-positive share and detection at the shipped threshold
(score >= 0.5 or an attack finding), per class and subclass; per detector
part (each (name, weight) of ``Finding.parts`` where the detector provides it,
and ``signatures``: an attack finding or not).

Scoring is ``detector scan --all``'s (asserted once against the CLI on a whole
file). The main figures come from one "mixed" scan of all held-out requests in
time order, as one log would carry them; since scan's route templater learns
from every path it reads, each class is also scanned alone with the held-out
normal requests ("class alone" columns), and "interference" says how many
normal requests the mixed scan routed or scored differently.

Usage: python scripts/eval_tampering.py [--seed 7] [--corpus apache ...]
                                        [--max-test N] [--per-class N] [--json OUT]
(in a worktree, or with the data elsewhere: DETECTOR_SHARED_DATA=/path/to/shared/data)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import numpy as np
import orjson

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from detector.analysis.analyzer import RequestAnalyzer  # noqa: E402
from detector.analysis.findings import ATTACK, Finding  # noqa: E402
from detector.events import AccessEvent, BadRecord  # noqa: E402
from detector.jobs.scan import CHUNK  # noqa: E402
from detector.jobs.train import train  # noqa: E402
from detector.routes.templater import RouteTemplater  # noqa: E402
from detector.sources.files import FileSource  # noqa: E402
from scripts.oneclass_metrics import auroc, detection_at  # noqa: E402


def _data_dir() -> Path:
    env = os.environ.get("DETECTOR_SHARED_DATA")
    if env:
        return Path(env)
    # ../shared/data of the main checkout; a worktree under /work/wt/<name> is one level deeper
    for base in (REPO.parent, REPO.parent.parent):
        if (base / "shared" / "data").is_dir():
            return base / "shared" / "data"
    return REPO.parent / "shared" / "data"


DATA = _data_dir()
CLASSES = (
    "type_break",
    "unknown_name",
    "missing_mandatory",
    "method",
    "unknown_resource",
    "over_long",
    "encoding",
)
ATTACK_CLASS = "attack"  # payload lists: reported apart from the issue's classes
CORPORA = ("apache", "openstack", "forms")
FORM_CTYPE = "application/x-www-form-urlencoded"
SHIPPED_THRESHOLD = 0.5

# --------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as the corpora and the tamperer see it (query and body raw, encoded)."""

    ts: float
    service: str
    method: str
    path: str
    query: str = ""
    body: str | None = None
    ctype: str | None = None
    client: str = "192.0.2.1"
    ua: str = ""
    status: int = 200

    def same_request(self, other: Request) -> bool:
        return (self.method, self.path, self.query, self.body) == (
            other.method,
            other.path,
            other.query,
            other.body,
        )


@dataclass(frozen=True, slots=True)
class Tampered:
    request: Request
    cls: str
    sub: str
    source: int  # index of the held-out normal request it was made from


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def otel_line(r: Request) -> bytes:
    """The request as one OTel JSON line (CONTRACTS §1)."""
    rec: dict[str, Any] = {
        "timestamp": _iso(r.ts),
        "http.request.method": r.method,
        "url.path": r.path,
        "http.response.status_code": r.status,
        "client.address": r.client,
        "user_agent.original": r.ua,
        "service.name": r.service,
    }
    if r.query:
        rec["url.query"] = r.query
    if r.body is not None:
        rec["http.request.body.content"] = r.body
    if r.ctype:
        rec["http.request.header.content-type"] = r.ctype
    return orjson.dumps(rec)


def write_otel(path: Path, reqs: Iterable[Request]) -> int:
    n = 0
    with path.open("wb") as f:
        for r in reqs:
            f.write(otel_line(r) + b"\n")
            n += 1
    return n


# --------------------------------------------------------------------------------------
# Corpora


@dataclass
class Corpus:
    name: str
    train: list[Request]
    test: list[Request]
    notes: dict[str, Any] = field(default_factory=dict)


class Skipped(Exception):
    """A corpus whose data is absent."""


def _split_time(reqs: list[Request], share: float = 0.7) -> tuple[list[Request], list[Request]]:
    reqs = sorted(reqs, key=lambda r: r.ts)
    cut = int(len(reqs) * share)
    return reqs[:cut], reqs[cut:]


_COMBINED = re.compile(
    r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)(?: [^"]*)?" (\d{3}) \S+ "([^"]*)" "([^"]*)"'
)
# Fixed rule for obvious scanner lines on a static site (decided without the detector):
# server-side script extensions the site does not serve, WordPress/CGI probes, quote and
# template-injection characters, traversal.
SCANNER_PATH = re.compile(
    r"(?i)\.(?:php\d?|aspx?|jsp|cgi|pl|cfm)(?:[/?;]|$)|/wp-|/cgi-bin/|%22|%7b|\$\{|\.\./|"
    r"/etc/passwd"
)
SCANNER_UA = re.compile(
    r"(?i)nikto|sqlmap|nmap|masscan|zgrab|zmeu|morfeus|dirbuster|acunetix|w3af|nessus|openvas"
)
KEEP_METHODS = frozenset({"GET", "HEAD", "POST"})


def apache() -> Corpus:
    path = DATA / "access_logs" / "apache_logs.log"
    if not path.exists():
        raise Skipped(f"{path} not found")
    reqs: list[Request] = []
    dropped: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _COMBINED.match(line)
        if not m:
            dropped["unparsed"] += 1
            continue
        client, when, method, target, status, _ref, ua = m.groups()
        if int(status) >= 400:
            dropped["status>=400"] += 1
            continue
        if method not in KEEP_METHODS:
            dropped["method"] += 1
            continue
        if SCANNER_PATH.search(target) or SCANNER_UA.search(ua):
            dropped["scanner rule"] += 1
            continue
        p, _, q = target.partition("?")
        ts = datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").timestamp()
        reqs.append(Request(ts, "blog", method, p or "/", q, None, None, client, ua, int(status)))
    train_r, test_r = _split_time(reqs)
    return Corpus("apache", train_r, test_r, {"kept": len(reqs), "dropped": dict(dropped)})


_NOVA = re.compile(
    r"^\S+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) \d+ \w+ (nova\.[\w.]+) \[[^\]]*\] (\S+) "
    r'"(\S+) (\S+) HTTP/[\d.]+" status: (\d+) len: \d+ time: [\d.]+'
)


def openstack() -> Corpus:
    path = DATA / "access_logs" / "loghub_openstack" / "OpenStack_2k.log"
    if not path.exists():
        raise Skipped(f"{path} not found")
    reqs: list[Request] = []
    dropped: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = _NOVA.match(line)
        if not m:
            continue  # not a request line (compute and scheduler messages)
        when, logger, client, method, target, status = m.groups()
        if int(status) >= 400:
            dropped["status>=400"] += 1
            continue
        service = "nova-metadata" if "metadata" in logger else "nova-osapi"
        ts = datetime.strptime(when, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()
        p, _, q = target.partition("?")
        reqs.append(Request(ts, service, method, p, q, None, None, client, "", int(status)))
    train_r, test_r = _split_time(reqs)
    return Corpus("openstack", train_r, test_r, {"kept": len(reqs), "dropped": dict(dropped)})


# -- forms: generic routes, real values -------------------------------------------------

_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")),
    ("national_id", re.compile(r"\d{8}[a-z]")),
    ("card", re.compile(r"\d{16}")),
    ("postcode", re.compile(r"\d{5}")),
    ("phone", re.compile(r"\d{9}")),
    ("number4", re.compile(r"\d{4}")),
    ("small_int", re.compile(r"\d{1,3}")),
    ("word", re.compile(r"[a-z]+")),
)
_ADDRESS = re.compile(r"(?=.*[a-z])(?=.*\d)(?=.*[ ,]).*|.*\bs/n\b.*|c/ .*")
_WORDS = re.compile(r"[a-z][a-z .,'-]*[a-z.']")
_TOKEN = re.compile(r"(?=.*[a-z])(?=.*[\d!$*])[a-z\d!$*._-]{3,20}|(?=.*[!$*])[a-z!$*]{3,20}")


def value_shape(v: str) -> str:
    """The field shape of one real value, by a fixed rule (first match wins).

    >>> [value_shape(v) for v in ("ana@mail.es", "12345678z", "4245052344943379", "08012",
    ...                           "612345678", "c/ mayor 3, 2?b", "l6c971c1a", "ulpiano",
    ...                           "cuevas de san marcos", "1466", "84", "x y+z")]
    ... # doctest: +NORMALIZE_WHITESPACE
    ['email', 'national_id', 'card', 'postcode', 'phone', 'address', 'token', 'word', 'words',
     'number4', 'small_int', 'other']
    """
    for name, rx in _SHAPES:
        if rx.fullmatch(v):
            return name
    if _ADDRESS.fullmatch(v):
        return "address"
    if _TOKEN.fullmatch(v):
        return "token"
    if _WORDS.fullmatch(v) and any(c in v for c in " ,'-"):
        return "words"
    return "other"


# The set lost its non-ASCII letters (almadén -> almadn; 7ºB -> 7?b). The '?' after a
# floor number is restored as 'º', so non-ASCII letters occur, in Latin-1 or UTF-8.
_FLOOR = re.compile(r"(\d)\?([a-z])")

# Route -> ordered fields -> shape pool (None: a fixed value).
REGISTER_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "word"),
    ("surname", "words"),
    ("email", "email"),
    ("national_id", "national_id"),
    ("address", "address"),
    ("city", "words"),
    ("postcode", "postcode"),
    ("phone", "phone"),
    ("card", "card"),
    ("login", "token"),
    ("password", "token"),
)
ROUTE_WEIGHTS = (
    ("register_page", 0.08),
    ("register", 0.12),
    ("login_page", 0.08),
    ("login", 0.17),
    ("item", 0.30),
    ("search", 0.15),
    ("account", 0.10),
)


def value_pools(values: Sequence[str], rng: random.Random) -> tuple[
    dict[str, list[str]], dict[str, list[str]], Counter[str]
]:
    """Train and test pools per shape, split 70/30 by distinct value."""
    by: dict[str, list[str]] = defaultdict(list)
    for v in sorted(set(values)):
        by[value_shape(v)].append(_FLOOR.sub("\\1º\\2", v) if "?" in v else v)
    tr: dict[str, list[str]] = {}
    te: dict[str, list[str]] = {}
    for k, vs in by.items():
        rng.shuffle(vs)
        cut = int(len(vs) * 0.7)
        tr[k], te[k] = vs[:cut], vs[cut:]
    return tr, te, Counter({k: len(v) for k, v in by.items()})


def _enc(v: str, encoding: str) -> str:
    return quote_plus(v, safe="", encoding=encoding, errors="replace")


def _form(pairs: Sequence[tuple[str, str]], encoding: str) -> str:
    return "&".join(f"{k}={_enc(v, encoding)}" for k, v in pairs)


def _browser_uas() -> list[str]:
    path = DATA / "crs" / "popularUAs.data"
    uas: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("Mozilla/5.0") and not re.search(r"(?i)bot|spider|crawl", line):
                uas.append(line.strip())
    return uas or ["Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 Firefox/124.0"]


def forms_requests(
    n: int,
    pools: dict[str, list[str]],
    rng: random.Random,
    start: float,
    span: float,
    clients: Sequence[tuple[str, str, str]],
) -> list[Request]:
    """``n`` requests of the generic web application, values drawn from ``pools``."""
    names = [r for r, _ in ROUTE_WEIGHTS]
    weights = [w for _, w in ROUTE_WEIGHTS]
    fields = [(f, s) for f, s in REGISTER_FIELDS if pools.get(s)]
    words = pools["word"] + pools.get("words", [])
    ids = pools.get("number4") or pools["small_int"]
    out: list[Request] = []
    svc = "webapp"
    for ts in sorted(start + rng.random() * span for _ in range(n)):
        client, ua, encoding = clients[rng.randrange(len(clients))]
        route = rng.choices(names, weights)[0]
        c = rng.choice
        base = Request(ts, svc, "GET", "/", client=client, ua=ua)
        if route == "register_page":
            r = replace(base, path="/app/register")
        elif route == "login_page":
            r = replace(base, path="/app/login")
        elif route == "register":
            pairs = [(f, c(pools[s])) for f, s in fields] + [("submit", "Register")]
            r = replace(base, method="POST", path="/app/register",
                        body=_form(pairs, encoding), ctype=FORM_CTYPE)
        elif route == "login":
            pairs = [("user", c(pools["token"])), ("password", c(pools["token"]))]
            if rng.random() < 0.4:
                pairs.append(("remember", "on"))
            r = replace(base, method="POST", path="/app/login",
                        body=_form(pairs, encoding), ctype=FORM_CTYPE)
        elif route == "item":
            pairs = [("id", c(pools["small_int"])), ("name", c(pools["word"])),
                     ("price", c(pools["number4"])), ("quantity", c(pools["small_int"])),
                     ("submit", "Add to cart")]
            r = replace(base, path="/catalog/item", query=_form(pairs, encoding))
        elif route == "search":
            r = replace(base, path="/search", query=_form([("q", c(words))], encoding))
        else:
            r = replace(base, path=f"/account/{c(ids)}")
        out.append(r)
    return out


def forms(seed: int) -> Corpus:
    path = DATA / "httpparams" / "payload_train.csv"
    if not path.exists():
        raise Skipped(f"{path} not found")
    with path.open(newline="", encoding="utf-8") as f:
        values = [r["payload"] for r in csv.DictReader(f) if r["label"] == "norm"]
    rng = random.Random(seed)
    tr, te, shapes = value_pools(values, rng)
    uas = _browser_uas()
    clients = [
        (f"{net}.{host}", rng.choice(uas), rng.choice(("latin-1", "utf-8")))
        for net in ("198.51.100", "203.0.113")
        for host in range(1, 201)
    ]
    day = 86400.0
    start = datetime(2024, 3, 4, tzinfo=UTC).timestamp()
    train_r = forms_requests(14000, tr, rng, start, 7 * day, clients)
    test_r = forms_requests(6000, te, rng, start + 7 * day, 3 * day, clients)
    notes: dict[str, Any] = {"value_shapes": dict(shapes.most_common())}
    missing = sorted({s for _, s in REGISTER_FIELDS if not tr.get(s) or not te.get(s)})
    if missing:
        notes["fields_left_out"] = (
            f"no normal values of shape {', '.join(missing)}: "
            f"{', '.join(f for f, s in REGISTER_FIELDS if s in missing)} not posted"
        )
    return Corpus("forms", train_r, test_r, notes)


def load_corpus(name: str, seed: int) -> Corpus:
    if name == "apache":
        return apache()
    if name == "openstack":
        return openstack()
    return forms(seed)


def attack_payloads(rng: random.Random, n: int) -> list[tuple[str, str]]:
    path = DATA / "payloads" / "payloads_combined.jsonl.gz"
    if not path.exists():
        return []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        recs = [json.loads(x) for x in f]
    recs = [r for r in recs if r.get("label") == "attack" and 3 <= len(r["payload"]) <= 400]
    recs.sort(key=lambda r: (r["category"], r["payload"]))
    rng.shuffle(recs)
    return [(r["payload"], r["category"]) for r in recs[:n]]


# --------------------------------------------------------------------------------------
# Tampering

Pair = tuple[str, str | None]  # (raw name, raw value or None: no '=')


def split_pairs(s: str) -> list[Pair]:
    out: list[Pair] = []
    for part in s.split("&") if s else []:
        k, eq, v = part.partition("=")
        out.append((k, v if eq else None))
    return out


def join_pairs(pairs: Sequence[Pair]) -> str:
    return "&".join(k if v is None else f"{k}={v}" for k, v in pairs)


def _decode(s: str) -> str:
    try:
        return unquote_plus(s, errors="replace")
    except Exception:
        return s


_NUMERIC = re.compile(r"\d+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


@dataclass
class ParamInfo:
    count: int = 0
    numeric: bool = True
    email: bool = True
    letters: bool = False  # some value has a letter
    values: set[str] = field(default_factory=set)  # decoded, up to ENUM_CAP + 1 distinct

    ENUM_CAP = 5

    def add(self, raw: str | None) -> None:
        v = _decode(raw or "")
        self.count += 1
        self.numeric = self.numeric and bool(_NUMERIC.fullmatch(v))
        self.email = self.email and bool(_EMAIL.fullmatch(v))
        self.letters = self.letters or any(c.isalpha() for c in v)
        if len(self.values) <= self.ENUM_CAP:
            self.values.add(v)

    @property
    def enum(self) -> bool:
        """A fixed-value field: a few values, each seen many times."""
        return len(self.values) <= self.ENUM_CAP and self.count >= 4 * len(self.values)

    @property
    def kind(self) -> str:
        if self.numeric:
            return "numeric"
        if self.email:
            return "email"
        if self.enum:
            return "enum"
        return "text" if self.letters else "other"


@dataclass
class RouteInfo:
    requests: int = 0
    params: dict[str, ParamInfo] = field(default_factory=dict)
    present: Counter[str] = field(default_factory=Counter)  # requests carrying the name

    @property
    def mandatory(self) -> list[str]:
        return sorted(k for k, n in self.present.items() if n == self.requests)


RouteKey = Callable[[str, str], str]  # (service, path) -> route


def plain_route(service: str, path: str) -> str:
    """Numeric, hex and UUID segments as ``{id}`` (the tamperer's default route key)."""
    return re.sub(r"/(?:\d+|[0-9a-fA-F]{16,}|[0-9a-fA-F-]{36})(?=/|$)", "/{id}", path)


class RouteStats:
    """What the training requests show per route: methods, parameters, their kinds."""

    def __init__(self, train_reqs: Iterable[Request], key: RouteKey = plain_route) -> None:
        self.key = key
        self.routes: dict[tuple[str, str, str], RouteInfo] = defaultdict(RouteInfo)
        self.methods: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.paths: dict[str, set[str]] = defaultdict(set)
        for r in train_reqs:
            route = key(r.service, r.path)
            info = self.routes[(r.service, r.method, route)]
            info.requests += 1
            self.methods[(r.service, route)].add(r.method)
            self.paths[r.service].add(r.path)
            seen: set[str] = set()
            for k, v in split_pairs(r.query) + split_pairs(r.body or ""):
                name = _decode(k)
                info.params.setdefault(name, ParamInfo()).add(v)
                seen.add(name)
            info.present.update(seen)
        self.routes = dict(self.routes)

    def route(self, r: Request) -> tuple[str, RouteInfo | None]:
        route = self.key(r.service, r.path)
        return route, self.routes.get((r.service, r.method, route))


# Where a subclass applies: "mature" classes only on routes with at least min_history
# training requests (and value tampering only on parameters seen min_history // 2 times),
# which is the cold-start rule of detector train's profiles; unknown_resource anywhere.
SUBCLASSES: dict[str, tuple[str, ...]] = {
    "type_break": ("numeric_nul", "numeric_slash", "numeric_percent", "numeric_letters",
                   "email_two_at", "quote", "enum_append"),
    "unknown_name": ("name_append", "button_append", "name_drop_letter"),
    "missing_mandatory": ("missing", "duplicate"),
    "method": ("put", "delete", "patch"),
    "unknown_resource": ("backup_suffix", "numeric_segment", "sample_file", "jsessionid"),
    "over_long": ("repeat_300_1000", "repeat_1000_5000"),
    "encoding": ("crlf", "double_encoding", "bad_percent", "nul"),
    ATTACK_CLASS: ("payload",),
}
BACKUP_SUFFIXES = (".bak", ".BAK", ".old", "~", ".inc", ".orig", ".swp")
SAMPLE_FILES = (
    "/iisstart.htm", "/iisstart.png", "/welcome.png", "/iishelp/iis/misc/default.asp",
    "/examples/jsp/snp/snoop.jsp", "/examples/servlets/servlet/SessionExample",
    "/examples/jsp/num/numguess.jsp", "/manual/index.html", "/icons/README",
    "/docs/introduction.html", "/jmx-console/", "/tomcat-docs/index.html",
    "/_vti_inf.html", "/cfdocs/exampleapp/", "/servlet/SnoopServlet", "/test-cgi",
)  # fmt: skip
DOUBLE_ENCODED = ("%2527", "%253C", "%252F", "%2522", "%2500")
BAD_PERCENT = ("%G1", "%u0027", "%%", "%2", "%zz")


@dataclass(frozen=True, slots=True)
class _Slot:
    """One parameter of a request: where it is (query or body) and its index there."""

    where: str
    index: int
    name: str  # decoded
    raw_value: str | None


class Tamperer:
    """Seeded tampering of held-out normal requests, one class and subclass per request."""

    def __init__(
        self,
        stats: RouteStats,
        rng: random.Random,
        *,
        min_history: int = 50,
        payloads: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.stats = stats
        self.rng = rng
        self.min_history = min_history
        self.payloads = list(payloads)

    # -- helpers --------------------------------------------------------------------------

    def _mature(self, r: Request) -> tuple[str, RouteInfo] | None:
        route, info = self.stats.route(r)
        if info is None or info.requests < self.min_history:
            return None
        return route, info

    @staticmethod
    def _slots(r: Request) -> list[_Slot]:
        out = [_Slot("query", i, _decode(k), v) for i, (k, v) in enumerate(split_pairs(r.query))]
        out += [_Slot("body", i, _decode(k), v)
                for i, (k, v) in enumerate(split_pairs(r.body or ""))]
        return out

    def _known(self, info: RouteInfo, s: _Slot, kinds: Sequence[str] | None = None) -> bool:
        p = info.params.get(s.name)
        if p is None or p.count < self.min_history // 2 or s.raw_value is None:
            return False
        return kinds is None or p.kind in kinds

    @staticmethod
    def _edit(r: Request, where: str, pairs: list[Pair]) -> Request:
        if where == "query":
            return replace(r, query=join_pairs(pairs))
        return replace(r, body=join_pairs(pairs))

    def _set_value(self, r: Request, s: _Slot, value: str) -> Request:
        pairs = split_pairs(r.query if s.where == "query" else r.body or "")
        pairs[s.index] = (pairs[s.index][0], value)
        return self._edit(r, s.where, pairs)

    def _pick(self, r: Request, info: RouteInfo, kinds: Sequence[str] | None) -> _Slot | None:
        slots = [s for s in self._slots(r) if self._known(info, s, kinds)]
        return self.rng.choice(slots) if slots else None

    def _insert(self, value: str, piece: str) -> str:
        """``piece`` inside ``value`` (not splitting a %XX escape), or at its end."""
        cuts = [i for i in range(1, len(value) + 1) if "%" not in value[max(0, i - 2) : i]]
        at = self.rng.choice(cuts) if cuts else len(value)
        return value[:at] + piece + value[at:]

    # -- the subclasses -------------------------------------------------------------------

    def apply(self, r: Request, sub: str) -> Request | None:
        """The tampered copy of ``r`` (None: the subclass does not apply to it)."""
        rng = self.rng
        if sub in SUBCLASSES["unknown_resource"]:
            return self._resource(r, sub)
        if sub == "payload":
            got = self._mature(r)
            if got is None or not self.payloads:
                return None
            s = self._pick(r, got[1], None)
            if s is None:
                return None
            return self._set_value(r, s, quote_plus(rng.choice(self.payloads)[0], safe=""))
        got = self._mature(r)
        if got is None:
            return None
        route, info = got
        if sub in ("put", "delete", "patch"):
            if sub.upper() in self.stats.methods[(r.service, route)]:
                return None
            return replace(r, method=sub.upper())
        if sub.startswith("numeric_"):
            s = self._pick(r, info, ("numeric",))
            if s is None or not s.raw_value:
                return None
            v = s.raw_value
            new = {
                "numeric_nul": v + "%00",
                "numeric_slash": v + "/",
                "numeric_percent": v + "%",
                "numeric_letters": v + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz",
                                                           k=rng.randint(1, 3))),
            }[sub]
            return self._set_value(r, s, new)
        if sub == "email_two_at":
            s = self._pick(r, info, ("email",))
            if s is None or not s.raw_value:
                return None
            v = s.raw_value
            at = "%40" if "%40" in v else "@"
            local, _, domain = v.partition(at)
            if not local:
                return None
            cut = rng.randint(1, len(local))
            return self._set_value(r, s, local[:cut] + at + local[cut:] + at + domain)
        if sub == "quote":
            s = self._pick(r, info, ("text",))
            if s is None or not s.raw_value:
                return None
            return self._set_value(r, s, self._insert(s.raw_value, "%27"))
        if sub == "enum_append":
            s = self._pick(r, info, ("enum",))
            if s is None or s.raw_value is None:
                return None
            return self._set_value(r, s, s.raw_value + rng.choice("abcdefghijklmnopqrstuvwxyz1"))
        if sub in ("name_append", "button_append", "name_drop_letter"):
            return self._rename(r, info, sub)
        if sub == "missing":
            slots = [s for s in self._slots(r) if s.name in info.mandatory]
            if not slots:
                return None
            s = rng.choice(slots)
            pairs = split_pairs(r.query if s.where == "query" else r.body or "")
            del pairs[s.index]
            return self._edit(r, s.where, pairs)
        if sub == "duplicate":
            s = self._pick(r, info, None)
            if s is None:
                return None
            pairs = split_pairs(r.query if s.where == "query" else r.body or "")
            pairs.insert(s.index + 1, pairs[s.index])
            return self._edit(r, s.where, pairs)
        if sub.startswith("repeat_"):
            s = self._pick(r, info, None)
            if s is None or not s.raw_value:
                return None
            lo, hi = (300, 1000) if sub == "repeat_300_1000" else (1000, 5000)
            n = rng.randint(lo, hi)
            v = s.raw_value
            return self._set_value(r, s, (v * (n // len(v) + 1))[:n])
        if sub in ("crlf", "double_encoding", "bad_percent", "nul"):
            s = self._pick(r, info, ("text", "email", "enum", "other"))
            if s is None or s.raw_value is None:
                return None
            piece = {
                "crlf": "%0D%0A",
                "double_encoding": rng.choice(DOUBLE_ENCODED),
                "bad_percent": rng.choice(BAD_PERCENT),
                "nul": "%00",
            }[sub]
            return self._set_value(r, s, self._insert(s.raw_value, piece))
        raise ValueError(f"unknown subclass {sub!r}")

    def _rename(self, r: Request, info: RouteInfo, sub: str) -> Request | None:
        rng = self.rng
        want = ("enum",) if sub == "button_append" else ("numeric", "email", "text", "other")
        s = self._pick(r, info, want)
        if s is None:
            return None
        pairs = split_pairs(r.query if s.where == "query" else r.body or "")
        raw = pairs[s.index][0]
        if sub == "name_drop_letter":
            letters = [i for i, c in enumerate(raw) if c.isalpha()]
            if len(raw) < 3 or not letters:
                return None
            i = rng.choice(letters)
            new = raw[:i] + raw[i + 1 :]
        else:
            new = raw + rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        if _decode(new) in info.params:
            return None
        pairs[s.index] = (new, pairs[s.index][1])
        return self._edit(r, s.where, pairs)

    def _resource(self, r: Request, sub: str) -> Request | None:
        rng = self.rng
        path = r.path
        if sub == "backup_suffix":
            if path.endswith("/"):
                return None
            new = replace(r, path=path + rng.choice(BACKUP_SUFFIXES))
        elif sub == "numeric_segment":
            segs = path.split("/")
            if len(segs) < 2 or not segs[1]:
                return None
            at = rng.randint(1, len(segs) - 1)  # never last: a trailing number reads as an id
            digits = str(rng.randint(10**3, 10**10))
            new = replace(r, path="/".join(segs[:at] + [digits] + segs[at:]))
        elif sub == "sample_file":
            sample = rng.choice(SAMPLE_FILES)
            top = path.split("/")[1] if path.count("/") > 1 else ""
            if top and rng.random() < 0.5:
                sample = f"/{top}{sample}"
            new = replace(r, method="GET", path=sample, query="", body=None, ctype=None)
        elif sub == "jsessionid":
            if ";" in path:
                return None
            sid = "".join(rng.choices("0123456789ABCDEF", k=32))
            new = replace(r, path=f"{path};jsessionid={sid}")
        else:
            raise ValueError(f"unknown subclass {sub!r}")
        if new.path in self.stats.paths[r.service]:
            return None
        return new

    # -- many -----------------------------------------------------------------------------

    def generate(
        self, normal: Sequence[Request], per_class: int, classes: Sequence[str] = CLASSES
    ) -> list[Tampered]:
        """About ``per_class`` tampered requests per class, spread evenly over its subclasses
        (fewer where a subclass applies to few requests)."""
        out: list[Tampered] = []
        for cls in classes:
            subs = SUBCLASSES[cls]
            quota = math.ceil(per_class / len(subs))
            for sub in subs:
                got = 0
                for i in self.rng.sample(range(len(normal)), len(normal)):
                    if got >= quota:
                        break
                    new = self.apply(normal[i], sub)
                    if new is None:
                        continue
                    if new.same_request(normal[i]):
                        raise AssertionError(f"{cls}/{sub} left request {i} unchanged")
                    out.append(Tampered(new, cls, sub, i))
                    got += 1
        return out


# --------------------------------------------------------------------------------------
# Scoring


def score_file(models: Path, path: Path) -> dict[int, tuple[Finding | None, str]]:
    """Finding and route by 1-based line, as ``detector scan FILE --models DIR --all`` makes
    them (routes templated as the lines are read, findings judged in chunks of CHUNK)."""
    analyzer = RequestAnalyzer.from_registry(models)
    if analyzer.templater is not None:
        analyzer.templater.frozen = True  # as detector scan does with a trained templater
    templater = analyzer.templater or RouteTemplater()
    template = templater.template
    judge = analyzer.findings
    out: dict[int, tuple[Finding | None, str]] = {}
    events: list[AccessEvent] = []
    routes: list[str] = []

    def flush() -> None:
        for ev, route, f in zip(events, routes, judge(events, routes), strict=True):
            out[ev.offset] = (f, route)

    source = FileSource(str(path))
    try:
        for it in source:
            if it.__class__ is AccessEvent:
                ev: AccessEvent = it  # type: ignore[assignment]
                events.append(ev)
                routes.append(template(ev.service, ev.path))
                if len(events) >= CHUNK:
                    flush()
                    events, routes = [], []
            elif it.__class__ is BadRecord:
                pass  # reported by the caller: a line without a finding
        if events:
            flush()
    finally:
        source.close()
    return out


def finding_score(f: Finding | None) -> float:
    return 0.0 if f is None else float(f.score)


def flagged(f: Finding | None) -> bool:
    return f is not None and (f.kind == ATTACK or f.score >= SHIPPED_THRESHOLD)


def part_scores(findings: Sequence[Finding | None]) -> dict[str, np.ndarray]:
    """Per detector part: its weight where the finding names it, else 0; and signatures."""
    parts: list[dict[str, float]] = []
    names: dict[str, None] = {}
    for f in findings:
        got = {str(k): float(w) for k, w in (getattr(f, "parts", ()) or ())} if f else {}
        parts.append(got)
        names.update(dict.fromkeys(got))
    out = {n: np.array([p.get(n, 0.0) for p in parts]) for n in names}
    out["signatures"] = np.array([1.0 if f is not None and f.kind == ATTACK else 0.0
                                  for f in findings])
    return out


@dataclass
class Scored:
    """One scan: per line (in time order) the item it came from, its label, finding, route."""

    ids: list[int]  # index of the item in the list given to _score_set
    labels: list[tuple[str, str]]  # ("normal", "") or (class, subclass)
    findings: list[Finding | None]
    routes: list[str | None]  # None: the line was not decoded
    undecoded: int = 0


def _r4(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 4)


def _arrays(s: Scored) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    cls = np.array([c for c, _ in s.labels])
    sub = np.array([f"{c}/{b}" for c, b in s.labels])
    score = np.array([finding_score(f) for f in s.findings])
    flag = np.array([flagged(f) for f in s.findings])
    return cls, sub, score, flag


def metrics(scans: dict[str, Scored]) -> dict[str, Any]:
    """Figures of the mixed scan, with each class's figures when scanned alone beside them."""
    s = scans["mixed"]
    cls, sub, score, flag = _arrays(s)
    normal = cls == "normal"
    issue = np.isin(cls, CLASSES)

    def block(mask: np.ndarray, sc: np.ndarray = score, with_auroc: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"n": int(mask.sum())}
        if with_auroc:
            d["auroc"] = _r4(auroc(sc[normal], sc[mask]))
        d["det_at_1pct_fp"] = _r4(detection_at(sc[normal], sc[mask]))
        if sc is score:
            d["det_shipped"] = _r4(float(flag[mask].mean())) if mask.any() else None
        return d

    _, _, sn, fn = _arrays(scans["normal"])
    res: dict[str, Any] = {
        "test_normal": int(normal.sum()),
        "tampered": int(issue.sum()),
        "attack": int((cls == ATTACK_CLASS).sum()),
        "undecoded_lines": s.undecoded,
        "fp_shipped": _r4(float(flag[normal].mean())) if normal.any() else None,
        "fp_shipped_normal_alone": _r4(float(fn.mean())) if fn.size else None,
        "overall": block(issue),
        "by_class": {c: block(cls == c) for c in (*CLASSES, ATTACK_CLASS)},
        "by_subclass": {  # every subclass, n = 0 where it applied to no request
            f"{c}/{b}": block(sub == f"{c}/{b}", with_auroc=False)
            for c in (*CLASSES, ATTACK_CLASS)
            for b in SUBCLASSES[c]
        },
        "by_part": {},
        "interference": interference(scans),
    }
    # Each class scanned alone with the held-out normal requests (threshold on that scan's
    # normal requests): figures that no other class's traffic can move.
    for c in (*CLASSES, ATTACK_CLASS):
        b = res["by_class"][c]
        b["auroc_alone"] = b["det_at_1pct_fp_alone"] = None
        if c not in scans:
            continue
        ccls, csub, csc, _ = _arrays(scans[c])
        cn = ccls == "normal"
        b["auroc_alone"] = _r4(auroc(csc[cn], csc[ccls == c]))
        b["det_at_1pct_fp_alone"] = _r4(detection_at(csc[cn], csc[ccls == c]))
        for k in SUBCLASSES[c]:
            m = csub == f"{c}/{k}"
            res["by_subclass"][f"{c}/{k}"]["det_at_1pct_fp_alone"] = _r4(
                detection_at(csc[cn], csc[m])
            )
    for name, ps in part_scores(s.findings).items():
        res["by_part"][name] = {
            "fp_nonzero": _r4(float((ps[normal] > 0).mean())) if normal.any() else None,
            "overall": block(issue, ps),
            "by_class": {c: _r4(detection_at(ps[normal], ps[cls == c]))
                         for c in (*CLASSES, ATTACK_CLASS)},
        }
    return res


def _show(r: Request, limit: int = 160) -> str:
    """One request in a line, long values cut (the report's examples)."""
    text = r.method + " " + r.path + (f"?{r.query}" if r.query else "")
    if r.body is not None:
        text += f"  body: {r.body}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------
# The protocol


def _train(reqs: Sequence[Request], tmp: Path, name: str, seed: int) -> tuple[Path, Any]:
    train_file = tmp / f"{name}-train.jsonl"
    write_otel(train_file, sorted(reqs, key=lambda r: r.ts))
    reg = tmp / f"{name}-models"
    report = train([str(train_file)], reg, random_state=seed)
    return reg, report


Item = tuple[Request, str, str]  # request, class ("normal" or a class), subclass


def _score_set(reg: Path, tmp: Path, name: str, items: Sequence[Item]) -> Scored:
    """Score ``items`` in one scan, in time order (stable: a tampered copy after its source)."""
    order = sorted(range(len(items)), key=lambda i: items[i][0].ts)
    path = tmp / f"{name}.jsonl"
    write_otel(path, (items[i][0] for i in order))
    by_line = score_file(reg, path)
    got = [by_line.get(j + 1, (None, None)) for j in range(len(order))]
    return Scored(
        order,
        [(items[i][1], items[i][2]) for i in order],
        [f for f, _ in got],
        [r for _, r in got],
        sum(1 for j in range(len(order)) if j + 1 not in by_line),
    )


def score_all(reg: Path, tmp: Path, name: str, items: Sequence[Item]) -> dict[str, Scored]:
    """The mixed scan (every item in one file, as one log would carry them), the held-out
    normal requests alone, and each class alone with them."""
    normal = [it for it in items if it[1] == "normal"]
    items = normal + [it for it in items if it[1] != "normal"]  # ids of normal items agree
    out = {"mixed": _score_set(reg, tmp, f"{name}-mixed", items),
           "normal": _score_set(reg, tmp, f"{name}-normal", normal)}
    for c in (*CLASSES, ATTACK_CLASS):
        mine = [it for it in items if it[1] == c]
        if mine:
            out[c] = _score_set(reg, tmp, f"{name}-{c}", normal + mine)
    return out


def interference(scans: dict[str, Scored]) -> dict[str, Any]:
    """How the tampered requests of the mixed scan changed the normal requests' verdicts:
    the templater learns from every path it templates, so probes can reshape routes."""
    alone = scans["normal"]
    base = {i: (finding_score(f), r) for i, f, r in zip(alone.ids, alone.findings, alone.routes,
                                                         strict=True)}
    mixed = scans["mixed"]
    changed_score = 0
    moved: Counter[tuple[str, str]] = Counter()
    for i, (c, _), f, r in zip(mixed.ids, mixed.labels, mixed.findings, mixed.routes,
                               strict=True):
        if c != "normal":
            continue
        s0, r0 = base[i]  # normal items come first in the mixed list: same ids
        changed_score += finding_score(f) != s0
        if r != r0:
            moved[(str(r0), str(r))] += 1
    return {
        "normal_scored_differently": changed_score,
        "normal_routed_differently": sum(moved.values()),
        "route_changes": [f"{a} -> {b} ({n})" for (a, b), n in moved.most_common(5)],
    }


def verify_cli(reg: Path, scan: Scored, path: Path) -> dict[str, Any]:
    """``detector scan FILE --models DIR --all`` on a scanned file gives the in-process scores
    and verdicts of every line (asserted: the figures are those of the shipped CLI path)."""
    out = path.with_suffix(".cli.jsonl")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "detector", "scan", str(path), "--models", str(reg), "--all",
         "--output", f"jsonl:{out}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"detector scan exited {proc.returncode}: {proc.stderr.strip()}")
    cli = {rec["line"]: rec for rec in map(orjson.loads, out.read_bytes().splitlines())}
    ours = {j + 1: f for j, (f, r) in enumerate(zip(scan.findings, scan.routes, strict=True))
            if r is not None}
    assert set(cli) == set(ours), "detector scan and the harness saw different lines"
    for line, f in ours.items():
        got = cli[line]
        assert (got["score"], got["flagged"]) == (finding_score(f), flagged(f)), (line, got, f)
    return {"file_lines": len(ours), "equal": True}


def run(args: argparse.Namespace) -> dict[str, Any]:
    seed = args.seed
    res: dict[str, Any] = {"seed": seed, "data": str(DATA), "corpora": {}}
    rng = random.Random(seed)
    payloads = attack_payloads(random.Random(seed + 1), 5000)
    if not payloads:
        res["attack_payloads"] = "payloads/payloads_combined.jsonl.gz not found: no attack class"
    pooled_train: list[Request] = []
    pooled_items: list[tuple[Request, str, str]] = []
    verified = False
    with tempfile.TemporaryDirectory(prefix="eval-tampering-") as td:
        tmp = Path(td)
        for name in args.corpus:
            began = time.perf_counter()
            try:
                corpus = load_corpus(name, seed)
            except Skipped as exc:
                res["corpora"][name] = {"skipped": str(exc)}
                print(f"{name}: skipped ({exc})", file=sys.stderr)
                continue
            reg, report = _train(corpus.train, tmp, name, seed)
            keyer = RequestAnalyzer.from_registry(reg).templater or RouteTemplater()
            stats = RouteStats(corpus.train, keyer.template)
            test = corpus.test
            if args.max_test and len(test) > args.max_test:
                keep = sorted(rng.sample(range(len(test)), args.max_test))
                test = [test[i] for i in keep]
            tam = Tamperer(stats, random.Random(f"{seed}-{name}"),
                           min_history=args.min_route_history, payloads=payloads)
            tampered = tam.generate(test, args.per_class)
            if payloads:
                tampered += tam.generate(test, args.per_class, (ATTACK_CLASS,))
            examples: dict[str, dict[str, str]] = {}
            for t in tampered:
                examples.setdefault(f"{t.cls}/{t.sub}", {
                    "source": _show(test[t.source]), "tampered": _show(t.request)})
            items = [(r, "normal", "") for r in test]
            items += [(t.request, t.cls, t.sub) for t in tampered]
            scans = score_all(reg, tmp, name, items)
            out = {
                "train": len(corpus.train),
                "train_report": {"routes": report.routes, "model_rows": report.model_rows,
                                 "excluded_signature_hits": report.excluded_signature_hits},
                **corpus.notes,
                **metrics(scans),
            }
            if not verified and args.verify:
                out["cli_check"] = verify_cli(reg, scans["mixed"], tmp / f"{name}-mixed.jsonl")
                verified = True
            out["examples"] = examples
            out["elapsed_s"] = round(time.perf_counter() - began, 1)
            res["corpora"][name] = out
            print(f"{name}: done in {out['elapsed_s']} s", file=sys.stderr)
            pooled_train += corpus.train
            pooled_items += items
        done = [k for k, v in res["corpora"].items() if "skipped" not in v]
        if len(done) > 1:
            began = time.perf_counter()
            reg, report = _train(pooled_train, tmp, "pooled", seed)
            scans = score_all(reg, tmp, "pooled", pooled_items)
            res["pooled"] = {"corpora": done, "train": len(pooled_train), **metrics(scans),
                             "elapsed_s": round(time.perf_counter() - began, 1)}
    return res


# --------------------------------------------------------------------------------------
# Report


def _f(x: float | None, w: int = 6) -> str:
    return f"{'-':>{w}}" if x is None else f"{x:>{w}.3f}"


def table(title: str, r: dict[str, Any]) -> str:
    if "skipped" in r:
        return f"== {title}: skipped ({r['skipped']})"
    o = r["overall"]
    lines = [
        f"== {title}: train {r['train']:,}; held out {r['test_normal']:,} normal, "
        f"{r['tampered']:,} tampered, {r['attack']:,} attack"
        + (f"; {r['undecoded_lines']} lines not decoded" if r["undecoded_lines"] else ""),
        f"   tampered (issue classes): AUROC {_f(o['auroc'])}  det@1%FP {_f(o['det_at_1pct_fp'])}"
        f"  | shipped threshold: FP {_f(r['fp_shipped'])}  det {_f(o['det_shipped'])}",
        f"   {'':<36} {'':>5} {'mixed scan':^20}  {'class alone':^13}",
        f"   {'class / subclass':<36} {'n':>5} {'AUROC':>6} {'@1%FP':>6} {'@0.5':>6}  "
        f"{'AUROC':>6} {'@1%FP':>6}",
    ]
    for c, b in r["by_class"].items():
        lines.append(f"   {c:<36} {b['n']:>5} {_f(b['auroc'])} {_f(b['det_at_1pct_fp'])} "
                     f"{_f(b['det_shipped'])}  {_f(b['auroc_alone'])} "
                     f"{_f(b['det_at_1pct_fp_alone'])}")
        absent = []
        for k, s in r["by_subclass"].items():
            if k.split("/", 1)[0] != c:
                continue
            if not s["n"]:
                absent.append(k.split("/", 1)[1])
                continue
            lines.append(f"     {k.split('/', 1)[1]:<34} {s['n']:>5} {'':>6} "
                         f"{_f(s['det_at_1pct_fp'])} {_f(s['det_shipped'])}  {'':>6} "
                         f"{_f(s.get('det_at_1pct_fp_alone'))}")
        if absent and b["n"]:
            lines.append(f"     (applies to no held-out request: {', '.join(absent)})")
    parts = r["by_part"]
    short = {c: c[:7] for c in (*CLASSES, ATTACK_CLASS)}
    lines.append("   detector parts, detection at 1% FP of the part's weight alone:")
    lines.append(f"   {'part':<18} {'FP>0':>6} {'AUROC':>6} {'all':>6} "
                 + " ".join(f"{short[c]:>7}" for c in short))
    for name, p in parts.items():
        lines.append(
            f"   {name[:18]:<18} {_f(p['fp_nonzero'])} {_f(p['overall']['auroc'])} "
            f"{_f(p['overall']['det_at_1pct_fp'])} "
            + " ".join(_f(p["by_class"][c], 7) for c in short)
        )
    if len(parts) == 1:
        lines.append("   (findings carry no `parts` yet: only signatures can be reported)")
    for k in ("dropped", "fields_left_out"):
        if r.get(k):
            lines.append(f"   {k}: {r[k]}")
    i = r["interference"]
    if i["normal_scored_differently"] or i["normal_routed_differently"]:
        lines.append(
            f"   interference: in the mixed scan {i['normal_scored_differently']:,} normal "
            f"requests scored and {i['normal_routed_differently']:,} routed differently than "
            f"scanned alone (shipped FP alone {_f(r['fp_shipped_normal_alone'])})"
        )
        lines.extend(f"     {x}" for x in i["route_changes"])
    if r.get("cli_check"):
        lines.append(f"   detector scan --all gives the same scores on all "
                     f"{r['cli_check']['file_lines']:,} lines of the mixed scan")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--corpus", action="append", choices=CORPORA,
                    help="corpus to evaluate (repeatable; default all)")
    ap.add_argument("--max-test", type=int, default=0,
                    help="at most N held-out normal requests per corpus (seeded sample)")
    ap.add_argument("--per-class", type=int, default=700,
                    help="tampered requests per class and corpus, spread over its subclasses "
                         "(default 700)")
    ap.add_argument("--min-route-history", type=int, default=50,
                    help="tamper parameters, names and methods only on routes with this many "
                         "training requests (detector train's cold-start rule; default 50)")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the check against the detector scan CLI")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    args.corpus = list(dict.fromkeys(args.corpus or CORPORA))
    began = time.perf_counter()
    res = run(args)
    res["elapsed_s"] = round(time.perf_counter() - began, 1)
    for name, r in res["corpora"].items():
        print(table(name, r))
    if "pooled" in res:
        print(table(f"pooled ({', '.join(res['pooled']['corpora'])})", res["pooled"]))
    if "attack_payloads" in res:
        print(res["attack_payloads"])
    print(f"elapsed {res['elapsed_s']} s (seed {args.seed})")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
