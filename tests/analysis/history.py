"""Normal shop history (search, payments) as OTel JSON lines, for the train/scan tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import orjson

T0 = 1773738000.0
WORDS = ["lego", "red+shoes", "usb-c+cable", "dyson", "tv+55"]


def line(ts: float, method: str, path: str, query: str = "", body: str | None = None) -> bytes:
    rec: dict[str, object] = {
        "timestamp": datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z"),
        "service.name": "shop", "http.request.method": method, "url.path": path,
        "http.response.status_code": 200, "http.server.request.duration": 0.01,
        "client.address": "198.51.100.9", "user_agent.original": "ShopApp/5.1",
    }  # fmt: skip
    if query:
        rec["url.query"] = query
    if body is not None:
        rec["http.request.body.content"] = body
    return orjson.dumps(rec) + b"\n"


def normal_lines(n: int, seed: int, t0: float = T0) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        ts = t0 + i * 0.5
        k = i % 4
        if k == 0:
            q = f"q={rng.choice(WORDS)}" + (
                f"&page={rng.randint(1, 9)}" if rng.random() < 0.5 else ""
            )
            out.append(line(ts, "GET", "/v1/search", q))
        elif k == 1:
            body = orjson.dumps(
                {
                    "amount": rng.randint(100, 9000),
                    "currency": rng.choice(["EUR", "USD"]),
                    "capture": rng.random() < 0.5,
                    "customer": f"cus_{rng.getrandbits(32):08x}",
                }
            ).decode()
            out.append(line(ts, "POST", "/v2/payments", body=body))
        else:
            out.append(line(ts, "GET", f"/v2/payments/{rng.randint(1, 10**6)}"))
    return out
