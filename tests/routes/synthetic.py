"""A seeded, realistic API path generator shared by the routes tests and bench."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Iterator

ADJECTIVES = ["red", "blue", "green", "tiny", "large", "vintage", "smart", "eco", "soft", "dark"]
NOUNS = ["shoes", "lamp", "chair", "phone", "kettle", "jacket", "desk", "mug", "watch", "bag"]
MATERIALS = ["wool", "steel", "oak", "cotton", "glass", "leather", "bamboo", "linen", "clay"]
CATEGORIES = [f"cat-{w}" for w in ["home", "garden", "kids", "sport", "office", "pets", "tech"]]
TAGS = ["sale", "new", "gift", "summer", "winter", "outdoor", "indoor", "travel", "kitchen"]


def _slug(r: random.Random) -> str:
    words = [r.choice(ADJECTIVES), r.choice(MATERIALS), r.choice(NOUNS)]
    if r.random() < 0.5:
        words.append(r.choice(ADJECTIVES + MATERIALS))
    return "-".join(words)


def _hexdigest(r: random.Random, algo: str) -> str:
    return hashlib.new(algo, r.randbytes(16)).hexdigest()


def _uuid(r: random.Random) -> str:
    return str(uuid.UUID(bytes=r.randbytes(16), version=4))


def _routes(r: random.Random) -> list[Callable[[], str]]:
    def uid() -> str:
        return str(r.randint(1, 10**7))

    return [
        lambda: f"/api/v1/users/{uid()}",
        lambda: f"/api/v1/users/{uid()}/orders",
        lambda: f"/api/v1/users/{_uuid(r)}/orders/ORD-{r.randint(10**5, 10**6)}",
        lambda: "/api/v1/users/me",
        lambda: f"/api/v1/orders/{_uuid(r).upper()}",
        lambda: "/api/v1/health",
        lambda: f"/api/v2/payments/{uid()}/refunds",
        lambda: f"/catalog/items/{_slug(r)}",
        lambda: f"/catalog/items/{_slug(r)}/reviews",
        lambda: f"/catalog/items/SKU-{r.randint(10**4, 10**5)}",
        lambda: f"/catalog/categories/{r.choice(CATEGORIES)}",
        lambda: f"/img/{_hexdigest(r, 'sha1')}.png",
        lambda: f"/img/thumbs/{_hexdigest(r, 'md5')}.jpg",
        lambda: f"/static/js/app.{_hexdigest(r, 'sha256')[:8]}.js",
        lambda: f"/static/css/main.{_hexdigest(r, 'md5')[:10]}.css",
        lambda: "/search",
        lambda: "/login",
        lambda: "/docs/report-2024.pdf",
        lambda: f"/files/user{r.randint(1, 9999)}%40example.com/avatar",
        lambda: f"/geo/10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        lambda: f"/events/2026-03-{r.randint(1, 28):02d}/summary",
        lambda: f"/tags/{r.choice(TAGS)}/",
        lambda: f"/v2/sessions/{r.randbytes(24).hex()[: r.randint(16, 40)]}",
    ]


def realistic_paths(n: int, seed: int = 7) -> Iterator[str]:
    """``n`` raw paths of a plausible shop API (ids, slugs, hashes, assets)."""
    r = random.Random(seed)
    routes = _routes(r)
    for _ in range(n):
        yield r.choice(routes)()


def distinct_realistic_paths(n: int, seed: int = 7) -> list[str]:
    """``n`` distinct raw paths, in first-seen order."""
    seen: dict[str, None] = {}
    gen = realistic_paths(50 * n + 1000, seed)
    while len(seen) < n:
        seen.setdefault(next(gen), None)
    return list(seen)
