"""The client population: addresses, user agents, proxies, activity.

Activity is Zipf over a large pool, so a few clients are very busy and most
are seen once or twice. About a third sit behind a proxy or load balancer:
their records carry X-Forwarded-For and a peer address that is not theirs.
"""

from __future__ import annotations

import numpy as np

from detector.simulate import vocab

# First octets of busy public IPv4 space (residential, mobile, cloud).
_V4_FIRST = (2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 84, 85, 86, 87, 88, 89, 90, 91,
             92, 93, 94, 95, 109, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217)
_V6_PREFIX = ("2a02:8108", "2a01:c23", "2001:16b8", "2a00:23c5", "2a0a:a541", "2003:e3")
_CLOUD_FIRST = (3, 13, 18, 34, 35, 52, 54, 104, 138, 159, 167)  # hosting: bots, attackers
_LB_PEERS = ("10.0.1.12", "10.0.1.13", "10.0.2.7", "10.0.2.8")


class ClientPool:
    """All clients of one simulation, addressed by integer index.

    >>> pool = ClientPool(np.random.default_rng(0), 100)
    >>> len(pool.ip) >= 100 and pool.ip[0] != pool.ip[1]
    True
    """

    def __init__(self, rng: np.random.Generator, size: int, zipf: float = 1.05) -> None:
        self.rng = rng
        self.ip: list[str] = []
        self.ua: list[str] = []
        self.peer: list[str | None] = []  # proxy / LB address when proxied
        self.xff: list[str | None] = []
        self.uid: list[str] = []  # the account uuid this client acts as
        self.users = self._add_users(size)
        self.zipf_cdf = _zipf_cdf(size, zipf)
        self.probe = [self.add(f"10.0.{3 + i}.{20 + i}", vocab.PROBE_UA) for i in range(3)]
        self.stripe = [self.add(f"54.187.{174 + i}.{169 + 2 * i}", vocab.STRIPE_UA)
                       for i in range(4)]
        self.crawler = [self.add(ip, ua) for ip, ua in zip(
            ("66.249.66.1", "157.55.39.12", "54.36.148.92", "5.255.253.17", "40.88.21.235"),
            vocab.CRAWLER_UAS, strict=True)]

    def add(self, ip: str, ua: str, peer: str | None = None, xff: str | None = None) -> int:
        """Register one client; returns its index."""
        self.ip.append(ip)
        self.ua.append(ua)
        self.peer.append(peer)
        self.xff.append(xff)
        hi, lo = (int(x) for x in self.rng.integers(0, 2**63, size=2, dtype=np.int64))
        self.uid.append(_uuid(hi, lo))
        return len(self.ip) - 1

    def _add_users(self, n: int) -> np.ndarray:
        rng = self.rng
        v6 = rng.random(n) < 0.12
        octs = rng.integers(1, 255, size=(n, 4))
        first = np.asarray(_V4_FIRST)[rng.integers(0, len(_V4_FIRST), n)]
        kind = rng.choice(3, size=n, p=(0.58, 0.32, 0.10))  # browser, app, tool
        proxied = rng.random(n) < 0.33
        two_hops = rng.random(n) < 0.2
        hexes = rng.integers(0, 2**16, size=(n, 4))
        prefix = rng.integers(0, len(_V6_PREFIX), n)
        ua_pick = rng.integers(0, 1 << 30, n)
        words = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
        start = len(self.ip)
        uas = (vocab.BROWSER_UAS, vocab.APP_UAS, vocab.TOOL_UAS)
        # A proxied IPv6 user's hop takes the octets last drawn for an IPv4 one; a pool
        # whose first user is such a one takes the first row's (seed 92929 crashed here).
        o = octs[0]
        for i in range(n):
            if v6[i]:
                h = hexes[i]
                ip = f"{_V6_PREFIX[prefix[i]]}:{h[0]:x}:{h[1]:x}:{h[2]:x}::{h[3]:x}"
            else:
                o = octs[i]
                ip = f"{first[i]}.{o[1]}.{o[2]}.{o[3]}"
            table = uas[kind[i]]
            self.ip.append(ip)
            self.ua.append(table[ua_pick[i] % len(table)])
            if proxied[i]:
                peer = _LB_PEERS[ua_pick[i] % len(_LB_PEERS)]
                self.peer.append(peer)
                hop = f"172.16.{o[2] % 32}.{o[1]}"
                self.xff.append(f"{ip}, {hop}" if two_hops[i] else ip)
            else:
                self.peer.append(None)
                self.xff.append(None)
            self.uid.append(_uuid(int(words[i, 0]), int(words[i, 1])))
        return np.arange(start, start + n)

    def cloud_ip(self) -> str:
        """An address in hosting space, as bots and attackers use."""
        o = self.rng.integers(1, 255, size=3)
        return f"{_CLOUD_FIRST[int(o[0]) % len(_CLOUD_FIRST)]}.{o[0]}.{o[1]}.{o[2]}"

    def residential_ip(self) -> str:
        o = self.rng.integers(1, 255, size=3)
        return f"{_V4_FIRST[int(o[2]) % len(_V4_FIRST)]}.{o[0]}.{o[1]}.{o[2]}"

    def draw_users(self, n: int, perm: np.ndarray) -> np.ndarray:
        """Zipf-distributed user clients, ranked through a per-service permutation."""
        ranks = np.searchsorted(self.zipf_cdf, self.rng.random(n))
        return np.asarray(self.users[perm[ranks]], dtype=np.int32)

    def service_perm(self) -> np.ndarray:
        """Rank -> pool position, mostly shared across services, partly reshuffled."""
        n = len(self.users)
        perm = np.arange(n)
        moved = np.flatnonzero(self.rng.random(n) < 0.3)
        perm[moved] = self.rng.permutation(perm[moved])
        return perm


def _zipf_cdf(n: int, a: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** a
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return cdf


def _uuid(hi: int, lo: int) -> str:
    h = f"{hi & (2**64 - 1):016x}{lo & (2**64 - 1):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"
