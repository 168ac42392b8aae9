"""Raw values for templates: path placeholders, query strings, JSON bodies.

Everything is driven by one 64-bit random word per request so the render
loop does no RNG calls. Queries and bodies come from pools drawn once per
run: diverse enough for profiles, cheap enough for a million lines.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from urllib.parse import quote, urlencode

import numpy as np
import orjson

from detector.simulate import vocab
from detector.simulate.clients import ClientPool

PathFn = Callable[[int, int], str]  # (random word, client index) -> raw path
_POOL = 2048
_MIX = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class Fillers:
    """Compiles route templates into raw-path makers and holds value pools.

    >>> f = Fillers(np.random.default_rng(0), ClientPool(np.random.default_rng(0), 10))
    >>> f.path_fn("/v2/payments/{id}/refunds")(12345, 0).startswith("/v2/payments/")
    True
    """

    def __init__(self, rng: np.random.Generator, pool: ClientPool, id_span: int = 3_000_000,
                 sku_count: int = 40_000, image_count: int = 120_000) -> None:
        self.rng = rng
        self.pool = pool
        self.id_span = id_span
        self.skus = [f"SKU-{x:05d}" for x in _zipf_sample(rng, sku_count, 1.0, 1 << 16) + 10000]
        self.images = _zipf_sample(rng, image_count, 0.9, 1 << 16).tolist()
        self._hash: dict[int, str] = {}
        self.queries = {name: [make(rng) for _ in range(_POOL)] for name, make in QUERIES.items()}
        self.bodies = {name: [orjson.dumps(make(rng)).decode() for _ in range(_POOL)]
                       for name, make in BODIES.items()}

    def path_fn(self, template: str) -> PathFn:
        """A function filling every placeholder of ``template`` from the random word."""
        parts = _PLACEHOLDER.split(template)
        statics = parts[0::2]
        fills = [self._filler(name, k) for k, name in enumerate(parts[1::2])]
        if not fills:
            return lambda r, c: template

        def make(r: int, c: int) -> str:
            out = [statics[0]]
            for fill, static in zip(fills, statics[1:], strict=True):
                out.append(fill(r, c))
                out.append(static)
            return "".join(out)

        return make

    def _filler(self, name: str, k: int) -> PathFn:
        def word(r: int) -> int:
            return ((r + k) * _MIX & _MASK) >> 16

        if name == "uuid":
            uid = self.pool.uid
            # Mostly the client's own account; sometimes another one (support, admin).
            return lambda r, c: uid[c] if word(r) % 8 else uid[word(r) % len(uid)]
        if name == "sku":
            skus = self.skus
            return lambda r, c: skus[word(r) % len(skus)]
        if name == "hash":
            return lambda r, c: self._sha1(self.images[word(r) % len(self.images)])
        if name == "slug":
            slugs = vocab.CATEGORY_SLUGS + vocab.COLLECTION_SLUGS
            return lambda r, c: slugs[word(r) % len(slugs)]
        span = self.id_span
        hot = (span // 3) + np.arange(0, 1500) * 7919 % span  # recently active objects
        hot_ids = hot.tolist()

        log_span = float(np.log(span))

        def int_id(r: int, c: int) -> str:
            w = word(r)
            if w & 0x300 == 0:
                return str(hot_ids[w % 1500])
            # Object popularity is heavy-tailed: a log-uniform rank is Zipf with
            # exponent 1, so popular objects repeat and the long tail stays long.
            rank = int(np.exp(((w >> 12) % 1_048_576) / 1_048_576 * log_span))
            return str(100_000 + rank * 7919 % span)

        return int_id

    def _sha1(self, i: int) -> str:
        h = self._hash.get(i)
        if h is None:
            h = self._hash[i] = hashlib.sha1(i.to_bytes(8, "little")).hexdigest()
        return h

    def query(self, kind: str, r: int) -> str:
        pool = self.queries[kind]
        return pool[(r >> 40) % _POOL]

    def body(self, kind: str, r: int) -> str:
        pool = self.bodies[kind]
        return pool[(r >> 28) % _POOL]


def _zipf_sample(rng: np.random.Generator, n: int, a: float, size: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** a
    cdf = np.cumsum(w) / w.sum()
    return np.asarray(rng.permutation(n)[np.searchsorted(cdf, rng.random(size))])


def _pick(rng: np.random.Generator, seq: tuple[str, ...]) -> str:
    return seq[int(rng.integers(len(seq)))]


def _q(pairs: list[tuple[str, str | int]]) -> str:
    return urlencode(pairs, quote_via=quote)


def _maybe(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def _list_q(rng: np.random.Generator) -> str:
    pairs: list[tuple[str, str | int]] = [("limit", _pick(rng, ("10", "20", "50", "100")))]
    if _maybe(rng, 0.5):
        pairs.append(("page", int(rng.integers(1, 30))))
    if _maybe(rng, 0.3):
        pairs.append(("created[gte]", f"2026-03-{int(rng.integers(1, 17)):02d}"))
    if _maybe(rng, 0.2):
        pairs.append(("status", _pick(rng, ("succeeded", "pending", "failed", "active"))))
    return _q(pairs)


def _browse_q(rng: np.random.Generator) -> str:
    pairs: list[tuple[str, str | int]] = [("category", _pick(rng, vocab.CATEGORY_SLUGS))]
    if _maybe(rng, 0.6):
        pairs.append(("page", int(rng.integers(1, 12))))
    pairs.append(("limit", _pick(rng, ("24", "48", "24", "96"))))
    for key, seq, p in (("sort", vocab.SORTS, 0.5), ("color", vocab.COLORS, 0.25),
                        ("size", vocab.SIZES, 0.2)):
        if _maybe(rng, p):
            pairs.append((key, _pick(rng, seq)))
    if _maybe(rng, 0.15):
        lo = int(rng.integers(0, 10)) * 10
        pairs += [("price_min", lo), ("price_max", lo + int(rng.integers(2, 20)) * 10)]
    return _q(pairs)


def _page_q(rng: np.random.Generator) -> str:
    return _q([("page", int(rng.integers(1, 15))), ("limit", 20)])


def _reco_q(rng: np.random.Generator) -> str:
    return _q([("product", f"SKU-{int(rng.integers(10000, 50000))}"), ("limit", 12),
               ("context", _pick(rng, ("pdp", "cart", "home", "email")))])


def _search_q(rng: np.random.Generator) -> str:
    pairs: list[tuple[str, str | int]] = [("q", _pick(rng, vocab.SEARCH_TERMS))]
    if _maybe(rng, 0.35):
        pairs.append(("page", int(rng.integers(2, 10))))
    if _maybe(rng, 0.4):
        pairs.append(("limit", 20))
    if _maybe(rng, 0.2):
        pairs.append(("sort", _pick(rng, vocab.SORTS)))
    if _maybe(rng, 0.1):
        pairs.append(("lang", _pick(rng, ("en", "de", "fr", "es"))))
    return _q(pairs)


def _suggest_q(rng: np.random.Generator) -> str:
    return _q([("q", _pick(rng, vocab.SUGGEST_PREFIXES))])


def _orders_q(rng: np.random.Generator) -> str:
    pairs: list[tuple[str, str | int]] = [("page", int(rng.integers(1, 6))), ("limit", 20)]
    if _maybe(rng, 0.4):
        pairs.append(("status", _pick(rng, vocab.ORDER_STATES)))
    return _q(pairs)


def _shipping_q(rng: np.random.Generator) -> str:
    return _q([("country", _pick(rng, vocab.COUNTRIES)),
               ("postcode", f"{int(rng.integers(1000, 99999)):05d}"),
               ("weight_g", int(rng.integers(100, 20000)))])


def _export_q(rng: np.random.Generator) -> str:
    day = int(rng.integers(1, 16))
    return _q([("format", _pick(rng, ("csv", "xlsx", "json"))),
               ("from", f"2026-03-{day:02d}"), ("to", f"2026-03-{day + 1:02d}")])


def _next_q(rng: np.random.Generator) -> str:
    """Where to go after login/logout: own pages, sometimes a full public URL."""
    key = _pick(rng, ("next", "next", "redirect", "return_to", "redirect_uri"))
    return _q([(key, _pick(rng, vocab.REDIRECT_TARGETS))])


QUERIES: dict[str, Callable[[np.random.Generator], str]] = {
    "list": _list_q, "browse": _browse_q, "page": _page_q, "reco": _reco_q,
    "search": _search_q, "suggest": _suggest_q, "orders": _orders_q,
    "shipping": _shipping_q, "export": _export_q, "next": _next_q,
}

Body = dict[str, object]


def _email(rng: np.random.Generator) -> str:
    name = _pick(rng, vocab.FIRST_NAMES).replace("'", "")
    return f"{name}.{int(rng.integers(1, 999))}@{_pick(rng, vocab.EMAIL_DOMAINS)}"


def _amount(rng: np.random.Generator) -> int:
    return int(np.exp(rng.normal(8.0, 1.0)))


def _payment(rng: np.random.Generator) -> Body:
    return {"amount": _amount(rng), "currency": _pick(rng, vocab.CURRENCIES),
            "payment_method": f"pm_{int(rng.integers(1 << 40)):010x}",
            "customer": f"cus_{int(rng.integers(1 << 36)):09x}",
            "capture": _maybe(rng, 0.7), "description": f"Order #{int(rng.integers(10**6))}"}


def _b64(rng: np.random.Generator, n: int, urlsafe: bool = False) -> str:
    raw = rng.bytes(n)
    if urlsafe:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return base64.b64encode(raw).decode()


def _review(rng: np.random.Generator) -> Body:
    # Long, ordinary prose with quotes, apostrophes and the odd SQL word.
    k = int(rng.integers(1, 9)) if _maybe(rng, 0.35) else 1
    text = " ".join(_pick(rng, vocab.REVIEW_TEXTS) for _ in range(k))
    body: Body = {"rating": int(rng.integers(1, 6)), "text": text,
                  "author": _pick(rng, vocab.FIRST_NAMES)}
    if _maybe(rng, 0.2):
        body["title"] = _pick(rng, vocab.REVIEW_TITLES)
    return body


def _order(rng: np.random.Generator) -> Body:
    body: Body = {"cart_id": f"{int(rng.integers(1 << 62)):x}", "shipping": _address(rng),
                  "payment_method": _pick(rng, ("card", "paypal", "klarna", "sepa"))}
    if _maybe(rng, 0.25):
        body["delivery_note"] = _pick(rng, vocab.DELIVERY_NOTES)
    return body


def _passkey(rng: np.random.Generator) -> Body:
    return {"credential_id": _b64(rng, 32, urlsafe=True), "public_key": _b64(rng, 77),
            "attestation": _pick(rng, ("none", "none", "packed", "apple")),
            "transports": ["internal", "hybrid"] if _maybe(rng, 0.5) else ["internal"],
            "name": _pick(rng, ("iPhone", "MacBook Pro", "Pixel 8", "YubiKey 5C", "Windows Hello",
                                "Anna's iPad"))}


def _address(rng: np.random.Generator) -> Body:
    street = _pick(rng, ("Hauptstraße", "Rue de la Paix", "High St", "Calle Mayor"))
    return {"line1": f"{int(rng.integers(1, 200))} {street}",
            "city": _pick(rng, vocab.CITIES), "postcode": f"{int(rng.integers(1000, 99999))}",
            "country": _pick(rng, vocab.COUNTRIES)}


BODIES: dict[str, Callable[[np.random.Generator], Body]] = {
    "payment": _payment,
    "token": lambda r: {"grant_type": "client_credentials",
                        "client_id": f"cli_{int(r.integers(1 << 32)):08x}", "scope": "payments"},
    "capture": lambda r: {"amount_to_capture": _amount(r)},
    "refund": lambda r: {"amount": _amount(r) // 2,
                         "reason": _pick(r, ("requested_by_customer", "duplicate", "fraudulent"))},
    "card": lambda r: {"type": "card", "card": {"token": f"tok_{int(r.integers(1 << 40)):x}"},
                       "billing_details": {"email": _email(r)}},
    "webhook": lambda r: {"id": f"evt_{int(r.integers(1 << 48)):012x}",
                          "type": _pick(r, ("charge.succeeded", "charge.refunded",
                                            "payout.paid", "charge.dispute.created")),
                          "signature": _b64(r, 32)},
    "review": _review,
    "product": lambda r: {"price": {"amount": _amount(r), "currency": "EUR"},
                          "stock": int(r.integers(0, 500)), "color": _pick(r, vocab.COLORS)},
    "click": lambda r: {"query": _pick(r, vocab.SEARCH_TERMS), "position": int(r.integers(1, 25)),
                        "product": f"SKU-{int(r.integers(10000, 50000))}"},
    "advanced": lambda r: {"q": _pick(r, vocab.SEARCH_TERMS),
                           "filters": {"color": [_pick(r, vocab.COLORS)],
                                       "price": {"lte": int(r.integers(20, 500))}},
                           "page": int(r.integers(1, 5))},
    "login": lambda r: {"email": _email(r), "password": "********",
                        "remember_me": _maybe(r, 0.4)},
    "refresh": lambda r: {"refresh_token": f"rt_{int(r.integers(1 << 62)):016x}"},
    "profile": lambda r: {"first_name": _pick(r, vocab.FIRST_NAMES).title(),
                          "newsletter": _maybe(r, 0.3)},
    "address": _address,
    "signup": lambda r: {"email": _email(r), "password": "********",
                         "first_name": _pick(r, vocab.FIRST_NAMES).title(), "accept_terms": True},
    "mfa": lambda r: {"code": f"{int(r.integers(0, 10**6)):06d}", "method": "totp"},
    "email": lambda r: {"email": _email(r)},
    "cart_item": lambda r: {"quantity": int(r.integers(1, 4))},
    "order": _order,
    "checkout": lambda r: {"payment_method": _pick(r, ("card", "paypal", "klarna")),
                           "coupon": _pick(r, ("", "SPRING10", "WELCOME5", ""))},
    "coupon": lambda r: {"code": _pick(r, ("SPRING10", "WELCOME5", "FREESHIP", "BF2025",
                                           "spring10", "VIP-20"))},
    "cancel": lambda r: {"reason": _pick(r, ("changed_mind", "duplicate", "too_slow"))},
    # Bodies of routes shipped during the run (catalog.NEW_ROUTES) and rare routes.
    "dispute": lambda r: {"reason": _pick(r, ("product_not_received", "duplicate",
                                              "subscription_canceled", "fraudulent")),
                          "evidence": {"customer_email": _email(r),
                                       "note": _pick(r, vocab.DELIVERY_NOTES)}},
    "passkey": _passkey,
    "visual": lambda r: {"image": _b64(r, 96), "mime": "image/jpeg",
                         "crop": [int(r.integers(0, 50)), int(r.integers(0, 50)), 200, 200]},
    "return": lambda r: {"items": [{"sku": f"SKU-{int(r.integers(10000, 50000))}",
                                    "quantity": int(r.integers(1, 3))}],
                         "reason": _pick(r, ("too_small", "too_large", "damaged",
                                             "not_as_described", "changed_mind")),
                         "comment": _pick(r, vocab.REVIEW_TEXTS)},
    "export_request": lambda r: {"format": _pick(r, ("json", "csv")), "email": _email(r)},
}
