"""Unknown-resource and unseen-method model per service (issue 10, item 3).

Learned online from presumed-normal requests (:meth:`ResourceModel.learn`): per
service, the route templates with their method counts, the directory tree (the
prefixes of those templates, and whether each directory ever had an id-like
child), the file extensions seen with counts, whether paths ever carried a
session id, and the requests learned.

:meth:`ResourceModel.assess` lists what does not fit, each as ``(weight, part,
reason)`` with ``part`` ``"method"`` or ``"resource"``; weights are in [0, 1].

Cold start: nothing scores before the service has ``min_history`` requests,
and the method rule also needs the route itself to have ``min_history``.

Method (a known route): a method the route never answered in n requests has
a frequency below 3/n at 95 % (the rule of three), so the weight grows with n:
0.6 at ``min_history``, 0.9 at ten times that. HEAD where GET is known, and
OPTIONS, are benign (nothing); HEAD elsewhere counts half. On a route outside
the tree, a method the whole service never saw scores the same way.

Resource (only when the route is not a learned template, and the service's
tree is complete, i.e. no route was dropped for the ``max_routes`` bound):

- backup / editor copies of the last segment (``index.jsp.bak``, ``.BAK``,
  ``.old``, ``.orig``, ``.save``, ``.swp``, ``~``, ``#index.jsp#``,
  ``.index.jsp.swp``, ``.#index.jsp``): 0.9 on a known file, 0.85 on any other
  name; suffixes that are also ordinary (``.tmp``, ``.copy``, ``.inc``,
  ``.dist``, ``.1``) count only on a known file (0.9) or a name that already
  has an extension (0.75); an archive (``.zip``, ``.tar.gz``...) only of a
  known file or directory (0.85) or under a backup-like name (``www.zip``, 0.8);
- configuration, version-control, secret and sample files of other servers
  (``.git``, ``.env``, ``.htaccess``, ``web.config``, ``WEB-INF``,
  ``/examples/``, ``/iissamples/``, ``/cgi-bin/test-cgi``, ``/phpinfo.php``,
  ``/server-status``, WordPress paths...): 0.6-0.9, counted only where the path
  up to that segment is outside the learned tree (a service that serves
  ``/manual/`` has it in its tree) or the tree knows that position only as an
  ``{id}`` (``/files/.git/config`` where ``/files/{id}/...`` is known); build
  manifests (``Makefile``, ``package.json``) count half on an open service;
- a session id in the path (``;jsessionid=``, ``PHPSESSID=``, ``(S(...))``):
  0.85, unless the service's own requests carried one;
- an id-like segment (long digits, random characters: what the templater
  turned into ``{id}``) where that directory only ever had named children: 0.5
  from 8 characters, 0.4 from 6 (a year or a page number is not garbage, nor a
  word that a collapsed directory turned into ``{id}``);
- a path going on below a known file (``/shop/index.jsp/x``): 0.45;
- an extension the service never served, once it has seen at least 3, and
  ``min_history`` requests after its warm-up (to tell whether it is open): 0.45
  (under the threshold alone), or 0.25 on an open service, and nothing for what
  browsers and crawlers ask every site for (favicons, manifests, ``robots.txt``,
  ``/.well-known/``); 0.8 (0.5) for database dumps and key files
  (``.sql``, ``.mdb``, ``.pem``...).

A service is *open* when, after its warm-up, at least 1 learned request in 100
brought a new route or 1 in 1,000 a new extension: a site that publishes files
(a blog's ``/files/x.py``, ``named.conf``) serves new kinds of files now and
then; a shop's or an API's resource set settles.

A path that is in the learned tree is never a finding, nor is a plain new path
without any of these shapes (new endpoints are another detector's business).
Reasons say what was expected, e.g. ``resource /shop/index.jsp.bak: backup
suffix .bak on a known file (/shop/index.jsp); not in the learned tree of 120
routes``. Session id values are never echoed.

Memory is bounded: ``max_services`` services, ``max_routes`` routes per
service, ``max_methods`` methods per route and service, ``max_extensions``
extensions per service; resource verdicts are memoised under a byte bound.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import unquote

import orjson

from detector.analysis.values import rarity_weight, upper_rate
from detector.memo import Memo, size_of
from detector.routes.paths import split_path
from detector.routes.shapes import shape
from detector.state.component import DocumentState

__all__ = ["ResourceModel"]

STATE_FORMAT = "detector.resources"
STATE_VERSION = 1

METHOD = "method"
RESOURCE = "resource"
Found = tuple[float, str, str]  # (weight, part, reason)

MEMO_ENTRIES = 65_536
MEMO_BYTES = 16 << 20
MAX_DEPTH = 17  # segments looked at (the templater's 16 and its {rest})
_LIT, _PLACE = 1, 2  # directory flags: has a literal child, has a placeholder child

# ---- backup and editor copies ---------------------------------------------------------
# Suffixes nobody serves on purpose: a backup whatever the name.
_BACKUP_SUFFIX = re.compile(
    r"(?:bak|bac|bk|bkp|bck|backup|old|orig|original|save|sav|saved|swp|swo|swn|~\d+~)\d{0,3}"
)
# Suffixes that are also ordinary extensions or versions: only on a known file, or after
# a name's own extension (index.jsp.1 is a copy, ls.1 a man page).
_COPY_SUFFIX = re.compile(r"tmp|temp|copy|cpy|inc|dist|prev|previous|\d{1,3}")
_ARCHIVE = frozenset({"zip", "tar", "gz", "tgz", "rar", "7z", "bz2", "tbz", "tbz2", "xz", "z"})
_BACKUP_NAMES = frozenset({
    "backup", "backups", "bak", "www", "wwwroot", "site", "web", "htdocs", "public_html",
    "html", "db", "database", "dump", "data", "old", "src", "source", "release",
})  # fmt: skip
# In-name copies (index_old.jsp, index.bak.jsp, index - Copy.jsp, index (2).jsp): only
# on a known file, since button-old.png may be a real asset.
_INFIX = re.compile(
    r"(.+?)(?:[._-](?:bak|old|orig|backup|copy|save)\d?| - copy(?: \(\d+\))?| ?\(\d+\))"
    r"(\.[A-Za-z0-9]{1,8})"
)

# ---- configuration, version control, secrets, other servers' samples -----------------
_VCS = (0.9, "version-control metadata")
_CONF = (0.9, "server or application configuration")
_SECRET = (0.9, "secret or system file")
_DIAG = (0.85, "diagnostic page of another server")
_SAMPLE = (0.8, "default sample file of another server")
_CONSOLE = (0.75, "admin console of another server")
_LITTER = (0.7, "editor or OS metadata")
_CMS = (0.7, "path of another application (CMS)")
_MANIFEST = (0.6, "build or dependency manifest")
_PROBES: dict[str, tuple[float, str]] = {
    **dict.fromkeys((".git", ".svn", ".hg", ".bzr", "_darcs", ".gitignore", ".gitattributes",
                     ".gitmodules", ".gitconfig", ".cvsignore", ".gitlab-ci.yml"), _VCS),
    **dict.fromkeys((".htaccess", ".htpasswd", ".htdigest", "web.config", "web-inf", "meta-inf",
                     "web.xml", ".user.ini", "php.ini", "httpd.conf", "nginx.conf",
                     "wp-config.php", "configuration.php", "localsettings.php",
                     "config.inc.php", "database.yml", "appsettings.json",
                     "application.properties", "parameters.yml", "settings.py",
                     ".dockerenv", ".npmrc", ".pypirc", "global.asa", "global.asax"), _CONF),
    **dict.fromkeys((".ssh", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "authorized_keys",
                     ".bash_history", ".zsh_history", ".aws", ".netrc", ".pgpass", ".my.cnf",
                     "passwd", "shadow", "win.ini", "boot.ini"), _SECRET),
    **dict.fromkeys(("phpinfo.php", "info.php", "server-status", "server-info", "elmah.axd",
                     "trace.axd", "jkstatus", "balancer-manager", "actuator", "jolokia",
                     "test-cgi", "nph-test-cgi", "printenv", "printenv.pl"), _DIAG),
    **dict.fromkeys(("iissamples", "iisadmin", "iishelp", "iisadmpwd", "_vti_bin", "_vti_pvt",
                     "_vti_cnf", "_vti_adm", "_vti_inf.html", "msadc", "jsp-examples",
                     "servlets-examples", "tomcat-docs", "snoop.jsp", "snoopservlet",
                     "iisstart.htm", "localstart.asp", "postinfo.html", "default.ida",
                     "cmd.exe", "root.exe", "phf", "formmail.pl", "iisstart.png",
                     "welcome.png", "iis-85.png", "iis-8.png", "cfdocs", "cfide",
                     "jsp-examples", "tomcat.gif", "tomcat-power.gif", "asf-logo.png",
                     "readme.html", "license.txt"), _SAMPLE),
    **dict.fromkeys(("jmx-console", "web-console", "admin-console", "host-manager",
                     "phpmyadmin", "myadmin", "mysqladmin", "adminer.php", "invoker"), _CONSOLE),
    **dict.fromkeys((".ds_store", "thumbs.db", "desktop.ini", "ws_ftp.log", ".idea", ".vscode",
                     "sftp-config.json", ".ftpconfig"), _LITTER),
    **dict.fromkeys(("wp-login.php", "wp-admin", "wp-content", "wp-includes", "xmlrpc.php"),
                    _CMS),
    **dict.fromkeys(("composer.json", "composer.lock", "package.json", "package-lock.json",
                     "yarn.lock", "dockerfile", "docker-compose.yml", "gemfile", "gemfile.lock",
                     "pom.xml", "build.xml", "makefile"), _MANIFEST),
}  # fmt: skip
# Only as the first segment: ordinary words deeper down.
_ROOT_PROBES: dict[str, tuple[float, str]] = {
    **dict.fromkeys(("examples", "manual", "servlet", "cgi-bin", "scripts", "manager",
                     "iisadmin", "printers"), _SAMPLE),
    **dict.fromkeys(("administrator", "wordpress", "wp", "joomla", "drupal"), _CMS),
}  # fmt: skip
_SENSITIVE_EXT = frozenset({
    "sql", "dump", "mdb", "accdb", "sqlite", "sqlite3", "pem", "key", "p12", "pfx", "jks",
    "keystore", "ppk", "kdbx",
})  # fmt: skip
# Session ids moved into the URL: ;jsessionid= (Java), PHPSESSID= (PHP),
# ASPSESSIONID / (S(...)) (ASP.NET cookieless), ;sid= and ;sessionid=.
_SESSION = re.compile(
    r"(;\s*(?:jsessionid|sessionid|sid|phpsessid)=|phpsessid=|aspsessionid[a-z]*=|/\(s\()"
    r"([^/;?#]*)",
    re.I,
)


_KNOWN_MAX = 1 << 18  # (service, method, route) keys remembered as quiet


class _Route:
    __slots__ = ("methods", "n")

    def __init__(self) -> None:
        self.n = 0
        self.methods: dict[str, int] = {}


class _Service:
    __slots__ = ("dirs", "exts", "gen", "late", "late_new_ext", "late_new_routes", "methods", "n",
                 "open", "overflow", "routes", "seen", "sessions")

    def __init__(self) -> None:
        self.n = 0  # requests learned
        self.routes: dict[str, _Route] = {}
        self.methods: dict[str, int] = {}  # over the whole service
        self.exts: dict[str, int] = {}  # lower-case extension of the last segment
        self.dirs: dict[str, int] = {}  # template prefix ("" is the root) -> _LIT | _PLACE
        self.sessions = 0  # learned paths that carried a session id
        self.overflow = 0  # routes not kept (max_routes): the tree is then incomplete
        self.late = 0  # requests learned after min_history
        self.late_new_ext = 0  # ... that brought an extension never seen
        self.late_new_routes = 0  # ... that brought a route never seen
        self.open = False  # is_open() as of the last check (learn keeps it current)
        self.gen = 0  # bumped by every change a resource verdict depends on
        self.seen: tuple[int, str] = (-1, "")  # (gen, the commonest extensions, for reasons)

    def seen_extensions(self) -> str:
        """The 8 commonest extensions, as a reason shows them (kept per generation)."""
        if self.seen[0] != self.gen:
            exts = self.exts
            self.seen = (self.gen, ", ".join(sorted(exts, key=lambda e: (-exts[e], e))[:8]))
        return self.seen[1]

    def add_route(self, route: str) -> None:
        keys = _keys(route)
        prefix = ""
        for k in keys:
            flag = _PLACE if k[:1] == "{" else _LIT
            self.dirs[prefix] = self.dirs.get(prefix, 0) | flag
            prefix = f"{prefix}/{k}"

    def check_open(self, min_history: int) -> None:
        """Refresh :attr:`open`; a change is a new generation of verdicts."""
        now = self.is_open(min_history)
        if now != self.open:
            self.open = now
            self.gen += 1

    def is_open(self, min_history: int) -> bool:
        """New resources keep coming after the warm-up: a site that publishes files.

        At least 1 request in 100 brought a new route, or 1 in 1,000 a new extension
        (3 at least, either way). Such a site serves a file of a new type now and then,
        so an unseen extension is weaker evidence there.
        """
        if self.late < min_history:
            return False
        return (self.late_new_routes >= max(3, self.late // 100)
                or self.late_new_ext >= max(3, self.late // 1000))


class ResourceModel(DocumentState):
    """Per-service known routes, methods, directory tree and extensions; what falls outside.

    >>> m = ResourceModel(min_history=50)
    >>> for i in range(300):
    ...     page = ("index", "register", "cart")[i % 3]
    ...     m.learn("shop", ("GET", "POST")[i % 2], f"/shop/{page}.jsp", f"/shop/{page}.jsp")
    ...     m.learn("shop", "GET", "/shop/img/{id}.gif", f"/shop/img/{i}.gif")
    ...     m.learn("shop", "GET", "/shop/site.css", "/shop/site.css")
    >>> m.assess("shop", "GET", "/shop/index.jsp", "/shop/index.jsp")
    []
    >>> m.assess("shop", "GET", "/shop/about.jsp", "/shop/about.jsp", 200)  # new, served
    []
    >>> m.assess("shop", "GET", "/shop/about.jsp", "/shop/about.jsp")[0][0]  # no response known
    0.6135
    >>> m.assess("shop", "GET", "/shop/index.jsp.bak", "/shop/index.jsp.bak")
    [(0.9, 'resource', 'resource /shop/index.jsp.bak: backup suffix .bak on a known file (/shop/index.jsp); not in the learned tree of 5 routes')]
    >>> w, part, why = m.assess("shop", "PUT", "/shop/register.jsp", "/shop/register.jsp")[0]
    >>> round(w, 2), part, why
    (0.69, 'method', 'method PUT never seen on /shop/register.jsp in 100 requests; known: GET, POST')
    """  # noqa: E501

    STATE_NAME = "resources"

    def __init__(
        self,
        *,
        min_history: int = 200,
        max_services: int = 1000,
        max_routes: int = 5000,
        max_methods: int = 16,
        max_extensions: int = 256,
    ) -> None:
        for name, value in (("min_history", min_history), ("max_services", max_services),
                            ("max_routes", max_routes), ("max_methods", max_methods),
                            ("max_extensions", max_extensions)):
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.min_history = min_history
        self.max_services = max_services
        self.max_routes = max_routes
        self.max_methods = max_methods
        self.max_extensions = max_extensions
        self._services: dict[str, _Service] = {}
        # (service, method, route) of known routes answering a known method: nothing to say
        # about them ever again (routes and methods are never forgotten), so callers on the
        # hot path skip assess() for them. Bounded; replaced with the state on restore.
        self.known: set[tuple[str, str, str]] = set()
        # (service, route, path) -> (service generation, resource findings)
        self._memo: Memo[tuple[str, str, str], tuple[int, tuple[Found, ...]]] = Memo(
            MEMO_ENTRIES, MEMO_BYTES
        )

    def __len__(self) -> int:
        return len(self._services)

    def history(self, service: str, route: str | None = None) -> int:
        """Requests learned for ``service``, or for one of its routes (0 when unknown)."""
        svc = self._services.get(service)
        if svc is None:
            return 0
        if route is None:
            return svc.n
        info = svc.routes.get(route)
        return info.n if info is not None else 0

    def routes(self, service: str) -> list[str]:
        """The route templates learned for ``service``, sorted."""
        svc = self._services.get(service)
        return sorted(svc.routes) if svc is not None else []

    # -- learning ---------------------------------------------------------------------------

    def learn(self, service: str, method: str, route: str, path: str, n: int = 1) -> None:
        """Add presumed-normal requests: ``n`` of them (default one) on the route template
        ``route``, ``path`` being one of their raw paths (a window's count at once)."""
        if n <= 0:
            return
        svc = self._services.get(service)
        if svc is not None and (service, method, route) in self.known and (
                svc.n >= self.min_history and ";" not in path):
            # The hot path: a warm service, a route and method it knows (so a known
            # extension, nearly always): only the counts move.
            known = svc.routes[route]
            known.n += n
            known.methods[method] += n
            svc.methods[method] = svc.methods.get(method, 0) + n
            svc.n += n
            late_before = svc.late
            svc.late += n
            if svc.late // 256 != late_before // 256:
                svc.check_open(self.min_history)
            return
        if svc is None:
            if len(self._services) >= self.max_services:
                return
            svc = self._services[service] = _Service()
        before = svc.n
        svc.n += n
        if before < self.min_history <= svc.n:
            svc.gen += 1  # leaves cold start
        warm_n = max(0, svc.n - max(before, self.min_history))  # of them past the warm-up
        warm = warm_n > 0
        late_before = svc.late
        if warm:
            svc.late += warm_n
        info = svc.routes.get(route)
        if info is None:
            if len(svc.routes) >= self.max_routes:
                if not svc.overflow:
                    svc.gen += 1
                svc.overflow += 1
            else:
                info = svc.routes[route] = _Route()
                svc.add_route(route)
                svc.gen += 1
                if warm:
                    svc.late_new_routes += 1
        if info is not None:
            info.n += n
            c = info.methods.get(method)
            if c is not None:
                info.methods[method] = c + n
            elif len(info.methods) < self.max_methods:
                info.methods[method] = n
        c = svc.methods.get(method)
        if c is not None:
            svc.methods[method] = c + n
        elif len(svc.methods) < self.max_methods:
            svc.methods[method] = n
        if warm and svc.late // 256 != late_before // 256:
            svc.check_open(self.min_history)
        ext = _extension(path)
        if ext is not None:
            c = svc.exts.get(ext)
            if c is not None:
                svc.exts[ext] = c + n
            elif len(svc.exts) < self.max_extensions:
                svc.exts[ext] = n
                svc.gen += 1
                if warm:
                    svc.late_new_ext += 1
        if (";" in path or "(" in path or "ess" in path or "ESS" in path) and _SESSION.search(path):
            if not svc.sessions:
                svc.gen += 1
            svc.sessions += n

    # -- assessing --------------------------------------------------------------------------

    def assess(self, service: str, method: str, route: str, path: str,
               status: int | None = None) -> list[Found]:
        """What does not fit the service's learned routes: ``[(weight, part, reason)]``.

        Never raises; ``[]`` during cold start and for anything in the learned tree.
        """
        svc = self._services.get(service)
        if svc is None or svc.n < self.min_history:
            return []
        info = svc.routes.get(route)
        if info is not None:  # in the tree: only its methods can be news
            if method in info.methods:
                if len(self.known) < _KNOWN_MAX:
                    self.known.add((service, method, route))  # for ever quiet: callers skip
                return []
            if info.n < self.min_history:
                return []
            return self._method(method, info.n, info.methods, route)
        found: list[Found] = []
        if method not in svc.methods:
            found = self._method(method, svc.n, svc.methods, None)
        if not svc.overflow:
            key = (service, route, path)
            hit = self._memo.get(key)
            if hit is not None and hit[0] == svc.gen:
                res = hit[1]
            else:
                res = tuple(_resources(svc, route, path, self.min_history))
                self._memo.put(key, (svc.gen, res),
                               size_of(service, route, path, *(r for _, _, r in res)))
            if res:
                found.extend(res)
            elif status is None and not svc.open and not _WELL_KNOWN.search(path):
                # Any resource outside a settled tree, in a log without responses (a scan of
                # bare requests): as rare as new routes were once the service was warm. When
                # the response is known it says more: served, a new endpoint; 404, what
                # the scanning and client-error detectors weigh across requests.
                w = rarity_weight(upper_rate(svc.late_new_routes, svc.late))
                if w >= 0.3:
                    found.append((round(w, 4), RESOURCE,
                                  f"resource {_show(path)}: not in the learned tree of "
                                  f"{len(svc.routes):,} routes (no response known; new routes came "
                                  f"in {svc.late_new_routes:,} of {svc.late:,} requests "
                                  f"once warm)"))
        return found

    def _method(
        self, method: str, n: int, methods: dict[str, int], route: str | None
    ) -> list[Found]:
        if method == "OPTIONS" or (method == "HEAD" and "GET" in methods):
            return []
        x = min(1.0, max(0.0, math.log10(n / self.min_history)))
        w = 0.6 + 0.3 * x
        if method == "HEAD":
            w /= 2
        where = f"on {_show(route)}" if route is not None else "on this service"
        known = ", ".join(sorted(methods, key=lambda m: (-methods[m], m))[:6]) or "none"
        return [(round(w, 4), METHOD,
                 f"method {_show(method, 16)} never seen {where} in {n:,} requests; "
                 f"known: {known}")]

    # -- state -----------------------------------------------------------------------------

    def _config(self) -> dict[str, int]:
        return {"min_history": self.min_history, "max_services": self.max_services,
                "max_routes": self.max_routes, "max_methods": self.max_methods,
                "max_extensions": self.max_extensions}

    def save_state(self) -> bytes:
        """Every service's learned tree and the config as JSON bytes with a format version."""
        services = [
            {"service": name, "n": s.n, "sessions": s.sessions, "overflow": s.overflow,
             "late": s.late, "late_new_ext": s.late_new_ext,
             "late_new_routes": s.late_new_routes, "methods": s.methods,
             "extensions": s.exts,
             "routes": {r: {"n": i.n, "methods": i.methods} for r, i in s.routes.items()}}
            for name, s in self._services.items()
        ]  # fmt: skip
        return orjson.dumps({"format": STATE_FORMAT, "version": STATE_VERSION,
                             "config": self._config(), "services": services})

    @classmethod
    def load_state(cls, data: bytes) -> ResourceModel:
        """A model that continues where the saved one stopped; ValueError on bad state."""
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
                raise ValueError("not a resource model state")
            if doc.get("version") != STATE_VERSION:
                raise ValueError(f"unsupported resource state version {doc.get('version')!r}")
            config = doc["config"]
            if not isinstance(config, dict):
                raise ValueError("config is not an object")
            model = cls(**config)
            services = doc["services"]
            if not isinstance(services, list) or len(services) > model.max_services:
                raise ValueError("services: not a list within max_services")
            for s in services:
                name = _str(s["service"], "service")
                if name in model._services:
                    raise ValueError(f"service {name[:64]!r} twice")
                model._services[name] = _load_service(s, model)
        except ValueError as exc:
            raise ValueError(f"resource state: {exc}") from None
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"resource state: malformed ({type(exc).__name__}: {exc})") from None
        return model



# ---- state helpers ---------------------------------------------------------------------

def _str(v: Any, what: str) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{what}: not a string")
    return v


def _count(v: Any, what: str) -> int:
    if type(v) is not int or v < 0:
        raise ValueError(f"{what}: not a count")
    return v


def _counts(v: Any, what: str, limit: int) -> dict[str, int]:
    if not isinstance(v, dict) or len(v) > limit:
        raise ValueError(f"{what}: not an object of at most {limit} counts")
    return {_str(k, what): _count(c, what) for k, c in v.items()}


def _load_service(s: Any, model: ResourceModel) -> _Service:
    if not isinstance(s, dict):
        raise ValueError("service entry is not an object")
    svc = _Service()
    svc.n = _count(s["n"], "n")
    svc.sessions = _count(s["sessions"], "sessions")
    svc.overflow = _count(s["overflow"], "overflow")
    svc.late = _count(s["late"], "late")
    svc.late_new_ext = _count(s["late_new_ext"], "late_new_ext")
    svc.late_new_routes = _count(s["late_new_routes"], "late_new_routes")
    svc.open = svc.is_open(model.min_history)
    svc.methods = _counts(s["methods"], "methods", model.max_methods)
    svc.exts = _counts(s["extensions"], "extensions", model.max_extensions)
    routes = s["routes"]
    if not isinstance(routes, dict) or len(routes) > model.max_routes:
        raise ValueError("routes: not an object within max_routes")
    for route, r in routes.items():
        info = svc.routes[_str(route, "route")] = _Route()
        if not isinstance(r, dict):
            raise ValueError("route entry is not an object")
        info.n = _count(r["n"], "route n")
        info.methods = _counts(r["methods"], "route methods", model.max_methods)
        svc.add_route(route)
    return svc


# ---- the resource rules ----------------------------------------------------------------

def _keys(route: str) -> list[str]:
    return [k for k in route.split("/") if k]


def _decode(seg: str) -> str:
    return unquote(seg, errors="replace") if "%" in seg else seg


def _extension(path: str) -> str | None:
    """Lower-case extension of the last segment (``gz`` of ``x.tar.gz``), if it has one."""
    cut = path.find("?")
    if cut >= 0:
        path = path[:cut]
    last = path[path.rfind("/") + 1 :]
    semi = last.find(";")
    if semi >= 0:
        last = last[:semi]
    dot = last.rfind(".")
    if dot <= 0:
        return None
    ext = last[dot + 1 :]
    if len(ext) > 8 or not ext.isascii() or not ext.isalnum() or not ext[0].isalpha():
        return None
    return ext.lower()


def _show(s: str, limit: int = 96) -> str:
    """``s`` for a reason: session values hidden, non-printables replaced, length capped."""
    s = _SESSION.sub(lambda m: m.group(1) + "…", s)
    if not s.isprintable():
        s = "".join(c if c.isprintable() else "?" for c in s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _resources(svc: _Service, route: str, path: str, min_history: int) -> list[Found]:
    """The resource findings of a path whose route is outside the learned tree."""
    keys = _keys(route)[:MAX_DEPTH]
    segs = split_path(path, 64)
    if not segs:
        return []
    last_raw = segs[-1]
    segs = segs[: len(keys)] if keys else segs[:1]
    dirs, routes = svc.dirs, svc.routes
    # prefixes[i]: the template of the first i segments ("" is the root)
    prefixes = [""]
    for k in keys:
        prefixes.append(f"{prefixes[-1]}/{k}")
    # depth of the first key outside the learned tree
    out = next((i for i in range(len(keys)) if prefixes[i + 1] not in dirs
                and prefixes[i + 1] not in routes), len(keys))
    found: list[tuple[float, str]] = []
    covered_ext = False

    # a session id in the path
    if not svc.sessions:
        m = _SESSION.search(path)
        if m is not None:
            found.append((0.85, f"session id in the path ({m.group(1).strip().lower()}…); "
                                "the service's requests never carry one"))

    # configuration, version control, secrets, other servers' files
    probe: tuple[float, str, str] | None = None
    for i, seg in enumerate(segs):
        if i < out and keys[i][:1] != "{":
            continue  # this far the path is in the tree, and by name
        low = _decode(seg).lower()
        semi = low.find(";")
        if semi > 0:
            low = low[:semi]
        hit = _PROBES.get(low) or (_ROOT_PROBES.get(low) if i == 0 else None)
        if hit is None and low.startswith(".env") and (len(low) == 4 or low[4] in ".-_"):
            hit = _CONF
        if hit is not None and (probe is None or hit[0] > probe[0]):
            probe = (hit[0], hit[1], low[:48])
            covered_ext |= i == len(segs) - 1
    open_ = svc.open
    if probe is not None:
        w = probe[0] / 2 if open_ and probe[1] == _MANIFEST[1] else probe[0]
        found.append((w, f"{probe[1]} ({probe[2]})"))

    # backup and editor copies of the last segment
    last = _decode(last_raw)
    semi = last.find(";")
    if semi > 0:
        last = last[:semi]
    dir_prefix = prefixes[len(keys) - 1] if keys else ""
    b = _backup(last, dir_prefix, svc)
    if b is not None:
        found.append(b)
        covered_ext = True

    # an id-like segment where the directory only ever had named children
    if out < len(keys):
        k = keys[out]
        raw = segs[out] if out < len(segs) else ""
        garbage = _garbage(raw) if k == "{id}" and dirs.get(prefixes[out], 0) == _LIT else 0.0
        if garbage:
            where = prefixes[out] or "/"
            found.append((garbage, f"id-like segment {_show(_decode(raw), 40)} where "
                               f"{_show(where, 64)} only ever had named children"))
        elif out > 0 and prefixes[out] in routes and _extension(keys[out - 1]) is not None:
            found.append((0.45, f"path goes on below a known file ({_show(prefixes[out], 64)})"))

    # an extension the service never served
    ext = _extension(last_raw)
    if (ext is not None and not covered_ext and ext not in svc.exts and len(svc.exts) >= 3
            and svc.late >= min_history and not _WELL_KNOWN.search(path)):
        if ext in _SENSITIVE_EXT:
            w, what = (0.5 if open_ else 0.8), "database dump or key file extension"
        else:
            # below the threshold alone: a service answers the odd icon or manifest
            w, what = (0.25 if open_ else 0.45), "extension"
        found.append((w, f"{what} .{ext} never served by the service "
                         f"(seen: {svc.seen_extensions()})"))

    if not found:
        return []
    found.sort(key=lambda f: -f[0])
    tail = f"; not in the learned tree of {len(routes):,} routes"
    head = f"resource {_show(path)}: "
    return [(w, RESOURCE, head + why + tail) for w, why in found[:3]]


# What browsers, apps and crawlers ask every site for, whatever it serves: never a probe.
_WELL_KNOWN = re.compile(
    r"^/(?:\.well-known/|favicon[^/]*$|apple-touch-icon[^/]*$|(?:site\.webmanifest|manifest"
    r"\.json|robots\.txt|sitemap[^/]*\.xml(?:\.gz)?|humans\.txt|ads\.txt|security\.txt"
    r"|browserconfig\.xml|crossdomain\.xml)$)",
    re.IGNORECASE,
)


def _garbage(seg: str) -> float:
    """Weight of an id-shaped segment: long digits or random characters (0.5 from 8
    characters, 0.4 from 6); shorter ones (a year, a page number) and words (what a
    collapsed directory templates to {id}) are not garbage."""
    if len(seg) < 6 or shape(seg) != "{id}":
        return 0.0
    return 0.5 if len(seg) >= 8 else 0.4


def _known(dir_prefix: str, base: str, svc: _Service) -> str | None:
    """The learned template of ``base`` in the directory ``dir_prefix``, if any."""
    flags = svc.dirs.get(dir_prefix, 0)
    if not flags or not base or "/" in base:
        return None  # an unknown directory has no known files
    cand = f"{dir_prefix}/{base}"
    if cand in svc.routes or cand in svc.dirs:
        return cand
    if not flags & _PLACE:
        return None  # no {id}-shaped child to be
    name = shape(base)
    if name is not None:
        cand = f"{dir_prefix}/{name}"
        if cand in svc.routes or cand in svc.dirs:
            return cand
    return None


def _backup(seg: str, dir_prefix: str, svc: _Service) -> tuple[float, str] | None:
    """(weight, reason) if the segment is a backup or editor copy of a file."""
    if len(seg) < 2:
        return None
    low = seg.lower()
    what: str | None = None
    base = ""
    sure = True  # a backup whatever the base
    if seg.endswith("~"):
        base, what = seg.rstrip("~"), "editor backup suffix ~"
    elif seg.startswith("#") and seg.endswith("#") and len(seg) > 2:
        base, what = seg[1:-1], "editor autosave #…#"
    elif seg.startswith(".#"):
        base, what = seg[2:], "editor lock file .#"
    elif low.startswith(".") and low[-4:] in (".swp", ".swo", ".swn") and len(seg) > 5:
        base, what = seg[1:-4], f"editor swap file {seg[-4:]}"
    elif low.startswith("copy of "):
        base, what = seg[8:], "'Copy of' prefix"
    else:
        dot = seg.rfind(".")
        if dot > 0:
            ext = low[dot + 1 :]
            base = seg[:dot]
            if _BACKUP_SUFFIX.fullmatch(ext):
                what = f"backup suffix {seg[dot:]}"
            elif _COPY_SUFFIX.fullmatch(ext):
                what, sure = f"copy suffix {seg[dot:]}", False
            elif ext in _ARCHIVE:
                return _archive(seg, dot, dir_prefix, svc)
        if what is None:
            m = _INFIX.fullmatch(seg) if len(seg) <= 128 else None
            if m is None:
                return None
            base, what, sure = m.group(1) + m.group(2), "copy marker in the name", False
            if _known(dir_prefix, base, svc) is None:
                return None
    if not base:
        return None
    known = _known(dir_prefix, base, svc)
    if known is not None:
        return 0.9, f"{what} on a known file ({_show(known, 64)})"
    if sure:
        return 0.85, f"{what} on {_show(base, 48)}"
    if "/" not in base and _extension(base) is not None:  # index.jsp.1: a copy of a file
        return 0.75, f"{what} on a file name ({_show(base, 48)})"
    return None


def _archive(seg: str, dot: int, dir_prefix: str, svc: _Service) -> tuple[float, str] | None:
    base = seg[:dot]
    inner = base.rfind(".")
    if inner > 0 and base[inner + 1 :].lower() == "tar":
        base = base[:inner]
    suffix = seg[len(base) :]
    known = _known(dir_prefix, base, svc)
    if known is not None:
        kind = "file" if known in svc.routes else "directory"
        return 0.85, f"archive {suffix} of a known {kind} ({_show(known, 64)})"
    if base.lower() in _BACKUP_NAMES:
        return 0.8, f"backup archive name {_show(seg, 48)}"
    return None
