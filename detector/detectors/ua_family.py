"""User-agent families: product and major version, and the OS where the agent says it.

A client population broken by a release is an app version on one platform
("ShopApp/3 (Android)"), not one exact user-agent string: minor versions and
device models spread one population over dozens of strings.
"""

from __future__ import annotations

import re

MAX_CACHED = 8192  # distinct user agents remembered; beyond, families are computed anew
MAX_LEN = 60

_PRODUCT = re.compile(r"([A-Za-z][A-Za-z0-9._-]{0,40})/v?(\d+)")
_BROWSERS = ("Edg", "OPR", "Firefox", "Chrome", "Version")  # first found wins
_OSES = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iOS"), ("iOS", "iOS"),
         ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Darwin", "macOS"),
         ("Linux", "Linux"))
_cache: dict[str, str] = {}


def _os_of(ua: str) -> str | None:
    for marker, name in _OSES:
        if marker in ua:
            return name
    return None


def _product_of(ua: str) -> str:
    found = dict(_PRODUCT.findall(ua))
    if ua.startswith("Mozilla/") and "compatible;" not in ua:
        for name in _BROWSERS:
            if name in found:
                return f"{'Safari' if name == 'Version' else name}/{found[name]}"
    m = _PRODUCT.search(ua[8:] if ua.startswith("Mozilla/") else ua)
    if m is not None:
        return f"{m.group(1)}/{m.group(2)}"
    return ua.split(" ", 1)[0][:MAX_LEN] or "-"


def ua_family(ua: str) -> str:
    """The family of a user agent (memoised, bounded).

    >>> ua_family("ShopApp/3.9.3 (Android 12; SM-A525F; okhttp/4.9.3)")
    'ShopApp/3 (Android)'
    >>> ua_family("ShopApp/5.12.1 (iPhone; iOS 17.4; Scale/3.00)")
    'ShopApp/5 (iOS)'
    >>> ua_family("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    ...           "like Gecko) Chrome/123.0.0.0 Safari/537.36")
    'Chrome/123 (Windows)'
    >>> ua_family("python-requests/2.31.0"), ua_family("")
    ('python-requests/2', '-')
    """
    fam = _cache.get(ua)
    if fam is not None:
        return fam
    product = _product_of(ua)
    os_name = _os_of(ua)
    fam = f"{product} ({os_name})" if os_name else product
    if len(_cache) < MAX_CACHED:
        _cache[ua] = fam
    return fam
