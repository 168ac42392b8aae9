"""What scanners ask for: sensitive files, admin panels, dictionary words.

None of these paths is a route of a simulated service, and none starts with
a service's version prefix (``/v1/``, ``/v2/``), so a scan never lands on a
route that carries a label and never teaches a templater false placeholders.
"""

from __future__ import annotations

import numpy as np

SENSITIVE: tuple[str, ...] = (
    "/.env", "/.env.local", "/.env.production", "/.env.bak", "/.env.example", "/api/.env",
    "/.git/config", "/.git/HEAD", "/.git/index", "/.git/logs/HEAD", "/.git-credentials",
    "/.svn/entries", "/.svn/wc.db", "/.hg/hgrc", "/.DS_Store", "/.htaccess", "/.htpasswd",
    "/.aws/credentials", "/.ssh/id_rsa", "/.npmrc", "/.dockerenv", "/.bash_history",
    "/.kube/config", "/.vscode/sftp.json", "/.idea/workspace.xml", "/.gitlab-ci.yml",
    "/.circleci/config.yml", "/.travis.yml", "/docker-compose.yml", "/Dockerfile",
    "/config.json", "/config.yml", "/config.php", "/config.php.bak", "/config.inc.php",
    "/wp-config.php", "/wp-config.php.bak", "/wp-config.php~", "/wp-login.php", "/wp-admin/",
    "/wp-admin/setup-config.php", "/wp-content/plugins/", "/wp-includes/wlwmanifest.xml",
    "/xmlrpc.php", "/wp-json/wp/v2/users", "/admin/", "/admin/login", "/admin/config.php",
    "/administrator/", "/admin.php", "/phpmyadmin/", "/phpMyAdmin/index.php", "/pma/",
    "/myadmin/", "/mysql/", "/adminer.php", "/server-status", "/server-info", "/backup.zip",
    "/backup.tar.gz", "/backup.sql", "/db.sql", "/dump.sql", "/database.sql", "/site.tar.gz",
    "/www.zip", "/web.zip", "/actuator", "/actuator/env", "/actuator/health",
    "/actuator/heapdump", "/actuator/mappings", "/actuator/configprops", "/jolokia/list",
    "/console/", "/manager/html", "/host-manager/html", "/jmx-console/", "/solr/admin/",
    "/_cat/indices", "/_all_dbs", "/debug/pprof/", "/debug/vars", "/metrics", "/graphql",
    "/graphiql", "/swagger-ui.html", "/swagger-ui/index.html", "/swagger.json",
    "/openapi.json", "/api-docs", "/v3/api-docs", "/api/swagger.json", "/composer.json",
    "/composer.lock", "/package.json", "/yarn.lock", "/Gemfile.lock", "/web.config",
    "/crossdomain.xml", "/cgi-bin/test.cgi", "/cgi-bin/luci", "/shell.php", "/cmd.php",
    "/upload.php", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/HNAP1/",
    "/boaform/admin/formLogin", "/GponForm/diag_Form", "/owa/auth/logon.aspx",
    "/remote/login", "/+CSCOE+/logon.html", "/global-protect/login.esp",
    "/telescope/requests", "/_ignition/health-check", "/info.php", "/phpinfo.php",
    "/test.php", "/storage/logs/laravel.log", "/logs/error.log", "/error_log", "/id_rsa",
    "/credentials.json", "/secrets.yml", "/sftp-config.json", "/autodiscover/autodiscover.xml",
    "/api/jsonws/invoke", "/jenkins/login", "/login.action", "/struts2-showcase/",
    "/containers/json", "/api/v1/pods", "/druid/index.html", "/nacos/", "/hudson",
    "/user/login", "/console/login/LoginForm.jsp", "/cgi-bin/.%2e/.%2e/.%2e/bin/sh",
    "/index.php", "/ReportServer", "/Autodiscover.xml",
    "/.well-known/acme-challenge/test", "/sitemap_index.xml", "/wp-sitemap.xml",
)

# 403 and 401 where a real front end would refuse rather than miss.
FORBIDDEN_PREFIXES: tuple[str, ...] = ("/.ht", "/.git", "/.svn", "/server-status",
                                       "/server-info", "/.aws", "/.ssh")
AUTH_PREFIXES: tuple[str, ...] = ("/admin/", "/manager/", "/host-manager/", "/jenkins/",
                                  "/phpmyadmin/", "/console/")

WORDS: tuple[str, ...] = (
    "admin", "backup", "backups", "old", "new", "test", "testing", "dev", "staging", "temp",
    "tmp", "files", "uploads", "upload", "images", "private", "secret", "internal",
    "debug", "console", "dashboard", "portal", "login", "logout", "signin", "register",
    "account", "db", "data", "sql", "mysql", "config", "conf", "include", "includes", "lib",
    "scripts", "bin", "src", "dist", "build", "archive", "archives", "logs", "log",
    "download", "downloads", "export", "import", "install", "setup", "update", "upgrade",
    "cache", "cron", "mail", "webmail", "blog", "forum", "shop", "store", "docs",
    "documentation", "help", "support", "monitor", "server", "web", "www", "home",
    "index", "default", "main", "site", "app", "apps", "mobile", "beta", "demo", "sample",
    "example", "report", "reports", "stats", "analytics", "tracking", "wp", "wordpress",
    "joomla", "drupal", "magento", "cms", "panel", "cpanel", "webadmin", "sysadmin",
    "manager", "management", "root", "system", "sys", "service", "services", "api-old",
    "rest", "soap", "ws", "xml", "json", "feed", "rss", "search-old", "cgi", "fcgi-bin",
    "phpinfo", "info", "status", "health-old", "jmx", "trace", "env", "properties",
    "settings", "setting", "credentials", "keys", "token", "tokens", "passwd", "password",
    "passwords", "users-old", "members", "customer", "customers", "invoice", "invoices",
    "billing", "orders-old", "payment", "payments-old", "checkout-old", "cart-old",
)
EXTENSIONS: tuple[str, ...] = ("", "/", ".php", ".bak", ".old", ".zip", ".tar.gz", ".sql",
                               ".txt", ".json", ".xml", ".asp", ".aspx", ".jsp", ".html",
                               ".conf", ".log", "~", ".swp", ".yml")

SCANNER_UAS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Nuclei - Open-source project (github.com/projectdiscovery/nuclei))",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)",
    "gobuster/3.6", "Fuzz Faster U Fool v2.1.0-dev", "feroxbuster/2.10.1",
    "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
    "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
    "Mozilla/5.0 zgrab/0.x", "Wfuzz/3.1.0", "python-requests/2.31.0", "Go-http-client/1.1",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/74.0.3729.169 Safari/537.36",
)


def scan_paths(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` probe paths in a scanner's order: a shuffled checklist, then a wordlist walk."""
    checklist = [SENSITIVE[int(i)] for i in rng.permutation(len(SENSITIVE))]
    checklist = checklist[: int(len(checklist) * rng.uniform(0.5, 1.0))]
    out = checklist[:n]
    words = int(rng.integers(len(WORDS)))
    exts = EXTENSIONS[: int(rng.integers(6, len(EXTENSIONS) + 1))]
    k = 0
    while len(out) < n:
        w = WORDS[(words + k // len(exts)) % len(WORDS)]
        sub = k // (len(exts) * len(WORDS))  # wordlist exhausted: go one level deeper
        prefix = f"/{WORDS[(sub * 7) % len(WORDS)]}" if sub else ""
        out.append(f"{prefix}/{w}{exts[k % len(exts)]}")
        k += 1
    # Retries and re-checks: a few repeats.
    for i in np.flatnonzero(rng.random(len(out)) < 0.03):
        out[int(i)] = out[int(rng.integers(0, int(i) + 1))]
    return out


def probe_status(path: str, rng: np.random.Generator) -> int:
    """What the edge answers a probe: mostly 404, refusals for a few well-known spots."""
    if path.startswith(FORBIDDEN_PREFIXES):
        return 403
    if path.startswith(AUTH_PREFIXES):
        return 401 if rng.random() < 0.7 else 404
    u = rng.random()
    return 403 if u < 0.04 else 400 if u < 0.05 else 404
