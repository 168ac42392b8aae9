"""The simulated estate: services, their log formats and their route tables.

Route popularity follows the order of each table (Zipf by rank), so the
first rows are the hot routes. Placeholder names are only hints for the
path fillers; the evaluator treats every ``{...}`` as the same placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RouteSpec:
    """One (method, route template) of a service and its normal behaviour.

    >>> r = RouteSpec("GET", "/v1/orders/{id}", 30)
    >>> r.key, r.anomaly_eligible
    ('GET /v1/orders/{id}', True)
    """

    method: str
    template: str
    latency_ms: float  # median; lognormal around it
    query: str | None = None  # name of a query builder in fillers.QUERIES
    q_prob: float = 0.0  # share of requests carrying a query string
    body: str | None = None  # name of a body builder in fillers.BODIES
    bytes_median: int = 900
    sigma: float = 0.5  # lognormal sigma of latency
    p404: float = 0.0
    p400: float = 0.0
    p422: float = 0.0
    p401: float = 0.0
    p304: float = 0.0
    auth: bool = False  # a credential endpoint: target of auth_failure_burst
    flat: bool = False  # no daily seasonality (health probes, sitemaps)
    bursty: bool = False  # naturally bursty, low volume (batch exports)
    clients: str = "users"  # client group: users | probe | stripe | crawler
    weight: float | None = None  # overrides the Zipf weight (req/s share)
    # Routes whose raw paths a templater cannot be expected to collapse
    # (slugs, hashed file names) never carry labelled anomalies.
    eligible: bool = True
    # Shipped by a deploy during the run (new_endpoint): no traffic before it.
    launched: bool = False

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def anomaly_eligible(self) -> bool:
        return (self.eligible and not (self.flat or self.bursty or self.launched)
                and self.clients == "users")


@dataclass(frozen=True)
class ServiceSpec:
    """A service: name, log format, daily-mean request rate and routes.

    >>> s = SERVICES[0]
    >>> s.name, s.format, len(s.routes) >= 8
    ('payments', 'otel', True)
    """

    name: str
    format: str  # otel | otel_nested | nginx_json | envoy
    rate: float  # daily-mean req/s at rate=1.0
    first_version: str
    routes: tuple[RouteSpec, ...]
    zipf: float = 1.0
    p5xx: float = 0.002
    phase_h: float = 0.0  # shift of the daily curve, hours
    authority: str = field(default="")
    weekend: float = 0.6  # weekend level as a share of a weekday's (see weekly)
    # Only the low-traffic shapes go there: the classic and security kinds, which
    # spread over services by their anomaly count, would otherwise crowd into it.
    low_traffic: bool = False


R = RouteSpec
RARE_WEIGHT = 1.5e-4  # of a ~5 req/s service: about 3 requests an hour

PAYMENTS = ServiceSpec(
    "payments", "otel", 5.0, "2.31.0", zipf=1.05, p5xx=0.003, weekend=0.6,
    routes=(
        R("GET", "/v2/payments/{id}", 25, p404=0.01),
        R("GET", "/v2/customers/{uuid}/payment-methods", 30),
        R("POST", "/v2/payments", 180, body="payment", p400=0.004, p422=0.006),
        R("GET", "/v2/payments", 40, query="list", q_prob=0.5),
        R("POST", "/v2/oauth/token", 60, body="token", p401=0.03, auth=True),
        R("POST", "/v2/payments/{id}/capture", 150, body="capture", p422=0.004),
        R("POST", "/v2/payments/{id}/refunds", 210, body="refund", p422=0.008),
        R("GET", "/v2/refunds/{id}", 20, p404=0.01),
        R("POST", "/v2/customers/{uuid}/payment-methods", 120, body="card", p422=0.02),
        R("GET", "/v2/balance", 15),
        R("POST", "/v2/webhooks/stripe", 35, body="webhook", clients="stripe"),
        R("GET", "/v2/payouts", 60, query="list", q_prob=0.5),
        R("GET", "/v2/disputes/{id}", 30, p404=0.02),
        R("DELETE", "/v2/payment-methods/{id}", 45, p404=0.03),
        # Rare from the start (a few per hour): must not look like a new endpoint.
        R("GET", "/v2/settlements/{id}/report", 900, query="export", q_prob=0.8,
          weight=RARE_WEIGHT, eligible=False, bytes_median=90000),
        R("GET", "/healthz", 2, flat=True, clients="probe", weight=0.1, bytes_median=20),
    ),
)

CATALOG = ServiceSpec(
    "catalog", "nginx_json", 13.0, "5.8.2", zipf=1.0, p5xx=0.001, phase_h=0.5, weekend=0.7,
    routes=(
        R("GET", "/v1/products/{sku}", 35, p404=0.008, bytes_median=4200),
        R("GET", "/v1/products", 80, query="browse", q_prob=0.9, bytes_median=18000),
        R("GET", "/img/{hash}.png", 6, eligible=False, p304=0.25, bytes_median=48000,
          sigma=0.8),
        R("GET", "/v1/categories/{slug}/products", 90, query="page", q_prob=0.6,
          eligible=False, bytes_median=16000),
        R("GET", "/v1/products/{sku}/availability", 20, bytes_median=300),
        R("GET", "/v1/products/{sku}/reviews", 60, query="page", q_prob=0.5),
        R("GET", "/v1/recommendations", 140, query="reco", q_prob=1.0, bytes_median=6000),
        R("GET", "/v1/categories", 10, bytes_median=7000, p304=0.3),
        R("GET", "/img/thumbs/{hash}.jpg", 5, eligible=False, p304=0.3, bytes_median=9000),
        R("GET", "/v1/brands/{id}", 25, p404=0.01),
        R("GET", "/v1/products/{sku}/variants", 30),
        R("GET", "/v1/stores/{id}/inventory/{sku}", 45, p404=0.02),
        R("POST", "/v1/products/{sku}/reviews", 110, body="review", p422=0.03, p401=0.01),
        R("GET", "/v1/collections/{slug}", 70, eligible=False),
        R("PUT", "/v1/products/{sku}", 130, body="product", p401=0.02, p422=0.01),
        R("GET", "/sitemap.xml", 50, flat=True, clients="crawler", weight=0.03),
        R("GET", "/robots.txt", 2, flat=True, clients="crawler", weight=0.02),
    ),
)

SEARCH = ServiceSpec(
    "search", "envoy", 6.0, "1.14.0", zipf=1.0, p5xx=0.002, phase_h=-0.5, weekend=0.65,
    authority="search.internal",
    routes=(
        R("GET", "/v1/search", 120, query="search", q_prob=1.0, bytes_median=12000,
          sigma=0.6),
        R("GET", "/v1/search/popular", 10, bytes_median=2000, p304=0.2),
        R("GET", "/v1/search/history/{uuid}", 25, p401=0.005),
        R("GET", "/v1/suggest", 15, query="suggest", q_prob=1.0, bytes_median=800),
        R("POST", "/v1/search/click", 8, body="click", bytes_median=0),
        R("GET", "/v1/search/trending/{id}", 20, p404=0.01),
        R("GET", "/v1/search/facets", 90, query="search", q_prob=0.8),
        R("POST", "/v1/search/advanced", 220, body="advanced", p400=0.01, p422=0.01),
        R("GET", "/v1/spellcheck", 30, query="suggest", q_prob=1.0),
        R("DELETE", "/v1/search/history/{uuid}", 20),
        R("GET", "/healthz", 2, flat=True, clients="probe", weight=0.1, bytes_median=20),
    ),
)

ACCOUNTS = ServiceSpec(
    "accounts", "otel_nested", 5.0, "3.2.7", zipf=0.95, p5xx=0.002, phase_h=0.3, weekend=0.55,
    routes=(
        R("GET", "/v1/users/me", 15, p401=0.01),
        R("POST", "/v1/auth/login", 250, body="login", p401=0.05, p400=0.003, auth=True,
          sigma=0.35, query="next", q_prob=0.3),
        R("GET", "/v1/users/{uuid}", 20, p404=0.004),
        R("GET", "/v1/users/{uuid}/addresses", 25),
        R("POST", "/v1/auth/refresh", 40, body="refresh", p401=0.02),
        R("PATCH", "/v1/users/{uuid}", 60, body="profile", p422=0.01),
        R("POST", "/v1/auth/logout", 12, bytes_median=0, query="next", q_prob=0.5),
        R("GET", "/v1/sessions", 30, query="list", q_prob=0.4),
        R("POST", "/v1/users/{uuid}/addresses", 70, body="address", p422=0.02),
        R("POST", "/v1/users", 300, body="signup", p422=0.03, p400=0.005),
        R("POST", "/v1/auth/mfa/verify", 40, body="mfa", p401=0.04),
        R("POST", "/v1/auth/password-reset", 90, body="email", p404=0.02),
        R("DELETE", "/v1/sessions/{id}", 20, p404=0.01),
        R("GET", "/.well-known/openid-configuration", 3, flat=True, weight=0.05),
        R("POST", "/v1/users/{uuid}/data-export", 400, body="export_request",
          weight=RARE_WEIGHT, eligible=False),
    ),
)

ORDERS = ServiceSpec(
    "orders", "envoy", 6.0, "4.0.3", zipf=1.1, p5xx=0.0025, phase_h=0.2, weekend=0.6,
    authority="orders.internal",
    routes=(
        R("GET", "/v1/carts/{uuid}", 15),
        R("GET", "/v1/orders/{id}", 30, p404=0.006),
        R("GET", "/v1/orders", 70, query="orders", q_prob=0.6),
        R("GET", "/v1/orders/{id}/tracking", 80, p404=0.01),
        R("PUT", "/v1/carts/{uuid}/items/{sku}", 35, body="cart_item", p422=0.01),
        R("POST", "/v1/orders", 260, body="order", p422=0.01, p400=0.003, sigma=0.4),
        R("DELETE", "/v1/carts/{uuid}/items/{sku}", 25, bytes_median=0),
        R("POST", "/v1/carts/{uuid}/checkout", 300, body="checkout", p422=0.02),
        R("GET", "/v1/shipping/rates", 110, query="shipping", q_prob=1.0),
        R("POST", "/v1/coupons/validate", 20, body="coupon", p422=0.12, p404=0.05),
        R("POST", "/v1/orders/{id}/cancel", 120, body="cancel", p422=0.02),
        R("GET", "/v1/reports/export", 1500, query="export", q_prob=1.0, bursty=True,
          weight=0.01, bytes_median=250000),
        R("GET", "/healthz", 2, flat=True, clients="probe", weight=0.1, bytes_median=20),
    ),
)

SERVICES: tuple[ServiceSpec, ...] = (PAYMENTS, CATALOG, SEARCH, ACCOUNTS, ORDERS)

# A B2B partner API: ~0.3 req/s at --rate 0.25, so most routes see a request
# every minute or two and many minutes with none; weekends under half a weekday.
# Simulated in real-world runs only (see planner.real_world), so shorter runs
# keep the five services above, byte for byte.
PARTNERS = ServiceSpec(
    "partners", "nginx_json", 1.2, "1.7.3", zipf=0.9, p5xx=0.002, phase_h=-1.0, weekend=0.45,
    low_traffic=True,
    routes=(
        R("GET", "/v1/partners/{id}/orders", 60, query="orders", q_prob=0.7, bytes_median=5000),
        R("GET", "/v1/partners/{id}", 20, p404=0.005),
        R("POST", "/v1/partners/{id}/shipments", 150, body="order", p422=0.01),
        R("GET", "/v1/partners/{id}/invoices", 90, query="list", q_prob=0.5, bytes_median=7000),
        R("GET", "/v1/partners/{id}/stock", 45, query="page", q_prob=0.3, bytes_median=3000),
        R("PUT", "/v1/partners/{id}/prices", 120, body="product", p422=0.02),
        R("GET", "/v1/partners/{id}/settlements", 200, query="list", q_prob=0.5),
        R("POST", "/v1/partners/{id}/returns", 180, body="return", p422=0.02),
        R("GET", "/v1/partners/{id}/contacts", 25),
        R("POST", "/v1/partners/{id}/webhooks/test", 300, body="webhook"),
        R("DELETE", "/v1/partners/{id}/sessions/{uuid}", 20, p404=0.02),
        R("GET", "/healthz", 2, flat=True, clients="probe", weight=0.1, bytes_median=20),
    ),
)

# Routes a deploy may ship during the run (new_endpoint), per service.
L = True
NEW_ROUTES: dict[str, tuple[RouteSpec, ...]] = {
    "payments": (
        R("POST", "/v2/payments/{id}/disputes", 140, body="dispute", p422=0.02, launched=L),
        R("GET", "/v2/payments/{id}/disputes", 30, launched=L),
        R("GET", "/v2/customers/{uuid}/mandates", 35, launched=L),
    ),
    "catalog": (
        R("GET", "/v1/products/{sku}/questions", 45, query="page", q_prob=0.4, launched=L),
        R("GET", "/v1/products/{sku}/bundles", 60, bytes_median=5000, launched=L),
    ),
    "search": (
        R("GET", "/v2/search", 110, query="search", q_prob=1.0, bytes_median=12000,
          launched=L),
        R("POST", "/v1/search/visual", 400, body="visual", p422=0.02, launched=L),
    ),
    "accounts": (
        R("POST", "/v1/users/{uuid}/passkeys", 90, body="passkey", p422=0.02, launched=L),
        R("GET", "/v1/users/{uuid}/passkeys", 20, launched=L),
        R("GET", "/v1/users/{uuid}/consents", 25, launched=L),
    ),
    "orders": (
        R("POST", "/v1/orders/{id}/returns", 180, body="return", p422=0.03, launched=L),
        R("GET", "/v1/orders/{id}/invoice", 120, bytes_median=40000, launched=L),
    ),
}

# Internal and admin endpoints a deploy may ship (new_endpoint, shape internal):
# a handful of engineers call them a few times, then nobody does.
INTERNAL_ROUTES: dict[str, tuple[RouteSpec, ...]] = {
    "payments": (R("GET", "/internal/debug/config", 4, bytes_median=2500, launched=L),
                 R("GET", "/admin/payments/export", 2200, bytes_median=400000, launched=L)),
    "catalog": (R("GET", "/internal/cache/stats", 6, bytes_median=1800, launched=L),
                R("GET", "/admin/products/export", 2600, bytes_median=900000, launched=L)),
    "search": (R("GET", "/debug/pprof/heap", 350, bytes_median=120000, launched=L),
               R("GET", "/internal/index/status", 12, bytes_median=900, launched=L)),
    "accounts": (R("GET", "/admin/users/export", 1800, bytes_median=600000, launched=L),
                 R("GET", "/internal/debug/config", 4, bytes_median=2500, launched=L)),
    "orders": (R("GET", "/internal/debug/vars", 3, bytes_median=3000, launched=L),
               R("GET", "/admin/orders/reconcile", 1400, bytes_median=50000, launched=L)),
    "partners": (R("GET", "/internal/debug/config", 4, bytes_median=2500, launched=L),
                 R("GET", "/admin/partners/audit", 900, bytes_median=80000, launched=L)),
}

# The service whose traffic is written a second time in Combined Log Format.
CLF_SERVICE = "catalog"
# The service that never publishes deployment events: its deploys are only
# visible through ``service.version`` on its access events.
SILENT_DEPLOY_SERVICE = "search"


def route_weights(svc: ServiceSpec) -> list[float]:
    """Share of the service's daily-mean rate per route (sums to 1)."""
    raw: list[float] = []
    rank = 0
    for r in svc.routes:
        if r.weight is None:
            rank += 1
            raw.append(1.0 / rank**svc.zipf)
        else:
            raw.append(0.0)
    zipf_total = sum(raw)
    fixed = sum(r.weight or 0.0 for r in svc.routes)
    scale = (1.0 - fixed) / zipf_total
    pairs = zip(raw, svc.routes, strict=True)
    return [w * scale if r.weight is None else r.weight for w, r in pairs]
