"""Request headers (``AccessEvent.headers``) against what a service's clients usually send.

:class:`HeaderProfiles` learns, per service and online from presumed-normal requests, the
header names its clients send (with counts) and, per name, what the values look like: a
:class:`~detector.analysis.param_stats.ParamStats` each, so a header value is judged like a
parameter value (kind, length, character classes, numeric range, enumeration) by
:func:`~detector.analysis.param_stats.check_value`. :meth:`HeaderProfiles.assess` lists what
does not fit, each with a weight in [0, 1]:

- a known header whose value does not fit: the weights of ``check_value`` (an over-long
  value about 0.35 and up, control characters 0.7, a value outside a small enumeration 0.4);
- a header name never seen on the service: 0.2 only (clients vary: a new browser, SDK or
  proxy brings new headers), and not at all once the service's name table has overflowed
  (an unkept name may well have been seen);
- Cookie: the cookie *names*, as a set (``a=1; b=2`` is {a, b}); an unknown cookie name is
  weak evidence like an unknown header; cookie values (session ids) are neither learned nor
  judged here (:func:`header_fields` hands them to the signatures).

Credentials (Authorization, API keys, tokens) are learned and judged by their shape only:
letters become "a" and digits "0" (the scheme word kept), so no secret enters the
enumerations, nor the snapshots that persist them.

Unknown is not anomalous (the cold start of ``ProfileStore``): nothing is judged before a
service has ``min_history`` requests with headers, and a header's values not before it has
carried ``max(10, min_history // 2)`` of them. Memory is bounded: ``max_names`` names and
``max_cookies`` cookie names per service, ``max_enum`` values per name, ``max_services``
services.

:func:`header_fields` says which header values the signatures scan, and :class:`HeaderScans`
scans them (memoised), each hit located ``header:<name>``.

>>> hp = HeaderProfiles(min_history=20)
>>> for i in range(50):
...     hp.learn("shop", (("accept", "application/json"), ("x-api-version", f"v{1 + i % 2}")))
>>> hp.assess("shop", (("accept", "application/json"), ("x-api-version", "v2")))
[]
>>> for w, part, why in hp.assess("shop", (("x-api-version", "v" * 300), ("x-debug", "1"))):
...     print(round(w, 2), part, why)
0.95 header header x-api-version: length 300 (usual 2)
0.2 header unknown header x-debug never seen on service shop in 50 requests
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import orjson

from detector.analysis.param_stats import ParamStats, check_value
from detector.analysis.signatures import SignatureEngine, SignatureHit
from detector.analysis.values import _value_info
from detector.memo import Memo, size_of
from detector.state.component import DocumentState

__all__ = ["PART", "SECRET_HEADERS", "HeaderProfiles", "HeaderScans", "header_fields"]

PART: Final = "header"  # the part name of every assess() entry
STATE_FORMAT = "detector.header_profiles"
STATE_VERSION = 1
UNKNOWN_WEIGHT = 0.2  # an unknown header or cookie name: weak evidence, clients vary
MAX_UNKNOWN_COOKIES = 3  # unknown cookie names reported per request

# Headers whose values are credentials: learned and judged by their shape only.
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "apikey", "x-auth-token",
    "x-access-token", "x-amz-security-token", "x-csrf-token", "x-xsrf-token", "x-session-token",
    "x-goog-api-key", "ocp-apim-subscription-key",
})  # fmt: skip
_SHAPE = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "a" * 52 + "0" * 10,
)
Headers = Sequence[tuple[str, str]]


def _shape(value: str) -> str:
    """A credential's shape: 'Bearer eyJ0.x9' -> 'Bearer aaa0.a0' (the scheme word kept)."""
    scheme, sp, rest = value.partition(" ")
    if sp and scheme.isalpha() and len(scheme) <= 16:
        return scheme + " " + rest.translate(_SHAPE)
    return value.translate(_SHAPE)


def _cookie_names(value: str) -> list[str]:
    """'a=1; b=2; flag' -> ['a', 'b', 'flag'] (the names, in order, as sent)."""
    out = []
    for pair in value.split(";"):
        name = pair.partition("=")[0].strip()
        if name:
            out.append(name)
    return out


def _label(name: str) -> str:
    """A header or cookie name fit for a reason: 64 characters, printable."""
    name = name[:64]
    return name if name.isprintable() else "".join(c if c.isprintable() else "?" for c in name)


class _Service:
    """What one service's clients send: header names (value statistics) and cookie names."""

    __slots__ = ("cookie_overflow", "cookies", "n", "names", "overflow")

    def __init__(self) -> None:
        self.n = 0  # requests learned that carried headers
        self.names: dict[str, ParamStats] = {}
        self.overflow = 0  # names not kept because the table was full
        self.cookies: dict[str, int] = {}  # cookie name -> requests carrying it
        self.cookie_overflow = 0


class HeaderProfiles(DocumentState):
    """Per-service header profiles, learned online; see the module docstring."""

    STATE_NAME = "header profiles"

    def __init__(
        self,
        *,
        min_history: int = 200,
        max_names: int = 64,
        max_cookies: int = 64,
        max_enum: int = 32,
        max_services: int = 1_000,
        max_reasons: int = 5,
    ) -> None:
        self.min_history = min_history
        self.min_value_obs = max(10, min_history // 2)  # values of a name before they count
        self.max_names = max_names
        self.max_cookies = max_cookies
        self.max_enum = max_enum
        self.max_services = max_services
        self.max_reasons = max_reasons
        self._services: dict[str, _Service] = {}

    def __len__(self) -> int:
        return len(self._services)

    def history(self, service: str) -> int:
        """Requests with headers learned for ``service`` (0 when unknown)."""
        prof = self._services.get(service)
        return prof.n if prof is not None else 0

    def learn(self, service: str, headers: Headers | None) -> None:
        """Add one presumed-normal request's headers (None or empty: nothing to learn)."""
        if not headers:
            return
        prof = self._services.get(service)
        if prof is None:
            if len(self._services) >= self.max_services:
                return
            prof = self._services[service] = _Service()
        prof.n += 1
        table = prof.names
        seen: set[str] = set()
        for name, value in headers:
            if name in seen:
                continue  # one value per name and request (decoders join repeats)
            seen.add(name)
            st = table.get(name)
            if st is None:
                if len(table) >= self.max_names:
                    prof.overflow += 1
                    continue
                st = table[name] = ParamStats()
            st.count += 1
            if name == "cookie":
                self._learn_cookies(prof, value)
                continue
            if name in SECRET_HEADERS:
                value = _shape(value)
            kind, bits, x, b = _value_info(value)
            st._learn(value, kind, bits, x, b, self.max_enum)

    def _learn_cookies(self, prof: _Service, value: str) -> None:
        cookies = prof.cookies
        for cname in dict.fromkeys(_cookie_names(value)):
            c = cookies.get(cname)
            if c is not None:
                cookies[cname] = c + 1
            elif len(cookies) < self.max_cookies:
                cookies[cname] = 1
            else:
                prof.cookie_overflow += 1

    def assess(self, service: str, headers: Headers | None) -> list[tuple[float, str, str]]:
        """(weight in [0, 1], "header", reason) for each way ``headers`` do not fit, heaviest
        first (at most ``max_reasons``); [] before the service's cold start is over."""
        prof = self._services.get(service)
        if not headers or prof is None or prof.n < self.min_history:
            return []
        found: list[tuple[float, int, str]] = []
        table = prof.names
        min_obs = self.min_value_obs
        seen: set[str] = set()
        for name, value in headers:
            if name in seen:
                continue
            seen.add(name)
            st = table.get(name)
            if st is None:
                if not prof.overflow:
                    found.append((UNKNOWN_WEIGHT, 0, f"unknown header {_label(name)} never "
                                  f"seen on service {_label(service)} in {prof.n:,} requests"))
                continue
            if name == "cookie":
                if st.count >= min_obs:
                    self._assess_cookies(prof, service, value, found)
                continue
            if st.obs < min_obs:
                continue
            if name in SECRET_HEADERS:
                value = _shape(value)
            check_value(f"header {_label(name)}", value, "str", st, found, min_obs)
        if not found:
            return []
        found.sort(key=lambda f: -f[0])
        out: list[tuple[float, str, str]] = []
        for w, _, why in found:
            if all(why != r for _, _, r in out):
                out.append((w, PART, why))
                if len(out) >= self.max_reasons:
                    break
        return out

    def _assess_cookies(self, prof: _Service, service: str, value: str,
                        found: list[tuple[float, int, str]]) -> None:
        if prof.cookie_overflow:
            return  # an unkept cookie name may well have been seen
        cookies = prof.cookies
        unknown = [c for c in dict.fromkeys(_cookie_names(value)) if c not in cookies]
        for cname in unknown[:MAX_UNKNOWN_COOKIES]:
            found.append((UNKNOWN_WEIGHT, 0, f"unknown cookie {_label(cname)} never seen on "
                          f"service {_label(service)} in {prof.n:,} requests"))

    # ---- persistence: versioned JSON, like ProfileStore ----

    def save_state(self) -> bytes:
        """Every service's profile and the config as JSON bytes with a format version."""
        services = [
            {"service": s, "n": p.n, "overflow": p.overflow, "cookies": p.cookies,
             "cookie_overflow": p.cookie_overflow,
             "names": {name: st.to_json() for name, st in p.names.items()}}
            for s, p in self._services.items()
        ]  # fmt: skip
        return orjson.dumps({
            "format": STATE_FORMAT, "version": STATE_VERSION,
            "config": {"min_history": self.min_history, "max_names": self.max_names,
                       "max_cookies": self.max_cookies, "max_enum": self.max_enum,
                       "max_services": self.max_services, "max_reasons": self.max_reasons},
            "services": services,
        })  # fmt: skip

    @classmethod
    def load_state(cls, data: bytes) -> HeaderProfiles:
        """Profiles that continue where the saved ones stopped; ValueError on bad state."""
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
                raise ValueError("not a header profile state")
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported header profile state version {doc.get('version')!r}")
            cfg = doc["config"]
            if not isinstance(cfg, dict):
                raise ValueError("config is not an object")
            hp = cls(**{k: int(v) for k, v in cfg.items()})
            for s in doc["services"]:
                p = _Service()
                p.n, p.overflow = int(s["n"]), int(s["overflow"])
                p.cookie_overflow = int(s["cookie_overflow"])
                p.cookies = {str(k): int(v) for k, v in s["cookies"].items()}
                p.names = {str(k): ParamStats.from_json(v) for k, v in s["names"].items()}
                hp._services[str(s["service"])] = p
        except ValueError as exc:
            raise ValueError(f"header profile state: {exc}") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"header profile state: malformed ({type(exc).__name__}: {exc})") from None
        return hp



# Headers whose name says they carry an uploaded file's name: scanned as a multipart part's
# filename="..." is (as SignatureEngine.scan_request does), so the upload rules apply.
def _upload_name(name: str) -> bool:
    return "filename" in name.replace("-", "").replace("_", "").replace(".", "")


def header_fields(headers: Headers | None) -> list[tuple[str, str]]:
    """(name, text) of every header value the signatures should scan: all of them.

    Cookie is split into its values, and its names that are more than a plain token;
    an upload-name header (X-Filename ...) is scanned as ``filename="..."``; a header
    name that is not a plain token is scanned too (payloads hide in names).

    >>> header_fields((("cookie", "sid=1; java.lang.Runtime=x"), ("x-filename", "a.php")))
    [('cookie', '1'), ('cookie', 'java.lang.Runtime'), ('cookie', 'x'), \
('x-filename', 'filename="a.php"')]
    """
    if not headers:
        return []
    out: list[tuple[str, str]] = []
    for name, value in headers:
        if not name.replace("-", "").replace("_", "").isalnum():
            out.append((name, name))
        if not value:
            continue
        if name == "cookie":
            for pair in value.split(";"):
                cname, eq, cval = pair.strip().partition("=")
                if cname and not cname.replace("_", "").replace("-", "").isalnum():
                    out.append((name, cname))
                if eq and cval:
                    out.append((name, cval))
        elif _upload_name(name):
            out.append((name, f'filename="{value}"'))
        else:
            out.append((name, value))
    return out


_NONE: list[SignatureHit] = []  # shared "no hits": never mutated
CACHE_MAX = 65_536
CACHE_BYTES = 8 << 20
MEMO_CHARS = 2048  # longer values are scanned every time, never memoised


class HeaderScans:
    """Signature hits in a request's headers, located ``header:<name>``, memoised.

    Most traffic repeats its header values, so most requests cost a few dict lookups.
    The hit lists are shared between requests: nothing downstream may mutate them.

    >>> scans = HeaderScans(SignatureEngine.default())
    >>> hits = scans.hits((("accept", "*/*"), ("x-api-version", "${jndi:ldap://x/a}")))
    >>> ("log4shell", "header:x-api-version") in {(h.category, h.location) for h in hits}
    True
    >>> scans.hits((("accept", "application/json"),))
    []
    """

    def __init__(self, signatures: SignatureEngine, max_entries: int = CACHE_MAX,
                 max_bytes: int = CACHE_BYTES) -> None:
        self.signatures = signatures
        self.memo: Memo[tuple[str, str], list[SignatureHit]] = Memo(max_entries, max_bytes)

    def scan(self, name: str, text: str) -> list[SignatureHit]:
        """Hits in one header field's ``text`` (see :func:`header_fields`), memoised."""
        key = (name, text)
        hits = self.memo.get(key)
        if hits is None:
            raw = self.signatures.scan_text(text, "header") if text else _NONE
            if raw:
                loc = f"header:{_label(name)}"
                hits = [SignatureHit(h.rule_id, h.category, h.paranoia, loc) for h in raw]
            else:
                hits = _NONE
            if len(text) + len(name) <= MEMO_CHARS:
                self.memo.put(key, hits, size_of(name, text))
        return hits

    def hits(self, headers: Headers | None) -> list[SignatureHit]:
        """Every hit in ``headers``, each (rule, location) once; [] for None."""
        if not headers:
            return _NONE
        found: list[SignatureHit] = []
        for name, text in header_fields(headers):
            got = self.scan(name, text)
            if got:
                found += got
        if len(found) > 1:
            found = list(dict.fromkeys(found))
        return found
