"""User-agent families: the populations client-error and drop incidents are scoped to."""

from __future__ import annotations

from detector.detectors import ua_family as mod
from detector.detectors.ua_family import ua_family


def test_minor_versions_and_devices_fall_in_one_family() -> None:
    uas = ["ShopApp/3.9.3 (Android 11; SM-A505F; okhttp/3.12.1)",
           "ShopApp/3.4.0 (Android 9; Nokia 6.1; okhttp/3.12.12)"]
    assert {ua_family(u) for u in uas} == {"ShopApp/3 (Android)"}
    assert ua_family("ShopApp/5.12.1 (Android 14; Pixel 8; okhttp/4.12.0)") == \
        "ShopApp/5 (Android)"


def test_browsers_crawlers_and_odd_agents() -> None:
    assert ua_family("Mozilla/5.0 (X11; Linux x86_64; rv:124.0) Gecko/20100101 "
                     "Firefox/124.0") == "Firefox/124 (Linux)"
    assert ua_family("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1"
                     ".15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1") == \
        "Safari/17 (iOS)"
    assert ua_family("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
                     ) == "Googlebot/2"
    assert ua_family("Ruby") == "Ruby"
    assert len(ua_family("x" * 5000)) <= mod.MAX_LEN


def test_the_memo_is_bounded() -> None:
    for i in range(mod.MAX_CACHED + 50):
        ua_family(f"bot-{i}/1.0")
    assert len(mod._cache) <= mod.MAX_CACHED
