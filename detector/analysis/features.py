"""The per-request feature vector of the batch model (schema :data:`FEATURE_NAMES`, version
:data:`FEATURE_VERSION`).

Lengths and counts enter as ``log1p`` (heavy tails would otherwise leave the
forest's random splits nothing to cut between normal values); ratios and the
profile components are in [0, 1]; entropy is in bits per byte. Character
statistics are over the raw query string and body, as UTF-8 bytes, computed for
a whole batch at once with numpy (one concatenated buffer, one per-request
byte histogram, then table lookups as a matrix product).

Changing a feature (name, order, meaning) means bumping :data:`FEATURE_VERSION`:
the registry refuses a model whose schema differs from the code's.

>>> z = (0.0,) * (len(COMPONENTS) + 1)
>>> rows = [RequestRow("/search", "q=shoes", None, 1, 5, z, (0,) * 5),
...         RequestRow("/search", "q=%27%20or%201=1--", None, 1, 11, z, (1, 0, 0, 0, 0))]
>>> X = feature_matrix(rows)
>>> X.shape == (2, len(FEATURE_NAMES))
True
>>> col = FEATURE_NAMES.index("percent"); bool(X[1, col] > X[0, col] == 0)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from detector.analysis.profiles import COMPONENTS

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_VERSION",
    "SIG_BUCKETS",
    "RequestRow",
    "feature_matrix",
    "schema",
    "sig_buckets",
]

FEATURE_VERSION = 2  # 2: profile components chars, duplicate, content_type
SIG_BUCKETS = ("sqli", "xss", "traversal", "code", "other")
_BUCKET_OF = {
    "sqli": 0, "nosqli": 0,
    "xss": 1,
    "path_traversal": 2, "sensitive_file": 2, "rfi": 2, "lfi": 2,
    "cmdi": 3, "php": 3, "java": 3, "nodejs": 3, "ssti": 3, "log4shell": 3, "xxe": 3,
}  # fmt: skip

_SHAPE = ("path_len", "path_depth", "query_len", "body_len", "n_params", "max_value_len")
_RATIOS = ("letters", "digits", "punct", "space", "non_ascii", "control")
_TEXT = ("entropy", "non_alnum")
_COUNTS = ("quotes", "angle", "paren", "semicolon", "dotdot", "percent", "dollar", "brace")
FEATURE_NAMES: tuple[str, ...] = (
    *_SHAPE, *_RATIOS, *_TEXT, *_COUNTS,
    "profile_score", *(f"profile_{c}" for c in COMPONENTS),
    *(f"sig_{b}" for b in SIG_BUCKETS),
)  # fmt: skip


class RequestRow(NamedTuple):
    """What the feature builder needs of one request."""

    path: str
    query: str
    body: str | None
    n_params: int
    max_value_len: int
    profile: tuple[float, ...]  # profile score, then one weight per profiles.COMPONENTS
    signatures: tuple[int, ...]  # hits per SIG_BUCKETS
    profile_raw: float = 0.0  # the profile score before route calibration (not a feature)


def schema() -> dict[str, object]:
    """The schema as stored in a model card."""
    return {"version": FEATURE_VERSION, "names": list(FEATURE_NAMES)}


def sig_buckets(categories: Sequence[str]) -> tuple[int, ...]:
    """Signature hit counts per :data:`SIG_BUCKETS` from hit categories."""
    counts = [0] * len(SIG_BUCKETS)
    for c in categories:
        counts[_BUCKET_OF.get(c, 4)] += 1
    return tuple(counts)


def _codes(groups: Sequence[bytes | range], default: int) -> npt.NDArray[np.int64]:
    """A byte -> group index table (groups do not overlap)."""
    t = np.full(256, default, dtype=np.int64)
    for i, chars in enumerate(groups):
        t[list(chars)] = i
    return t


# Byte classes (exhaustive, disjoint): letters, digits, punctuation, space, non-ASCII, control.
_CLASS_CODE = _codes([
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    b"0123456789",
    b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    b" ",
    range(128, 256),
    bytes([*range(32), 127]),
], default=-1)  # fmt: skip
assert (_CLASS_CODE >= 0).all()
_N_CLASSES = len(_RATIOS)
# Characters counted one by one, in _COUNTS order ('..' is counted apart: slot left empty).
_COUNT_CODE = _codes([b"'\"`", b"<>", b"()", b";", b"", b"%", b"$", b"{}"], default=len(_COUNTS))
_DOTDOT = _COUNTS.index("dotdot")


def feature_matrix(rows: Sequence[RequestRow]) -> npt.NDArray[np.float64]:
    """An (n, len(FEATURE_NAMES)) float64 matrix for ``rows``."""
    n = len(rows)
    out = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float64)
    if n == 0:
        return out
    texts = [
        (r.query + r.body if r.body else r.query).encode("utf-8", "surrogatepass") for r in rows
    ]
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(texts), dtype=np.uint8)
    seg = np.repeat(np.arange(n, dtype=np.int64), lens)
    k = _N_CLASSES
    classes = np.bincount(seg * k + _CLASS_CODE[buf], minlength=n * k).reshape(n, k)
    m = len(_COUNTS) + 1
    counts = np.bincount(seg * m + _COUNT_CODE[buf], minlength=n * m).reshape(n, m)[:, :-1]
    counts = counts.astype(np.float64)
    if buf.size > 1:  # '..' pairs inside one request (never across two)
        pair = (buf[:-1] == 46) & (buf[1:] == 46) & (seg[:-1] == seg[1:])
        counts[:, _DOTDOT] = np.bincount(seg[:-1][pair], minlength=n)
    denom = np.maximum(lens, 1).astype(np.float64)
    out[:, 0] = [len(r.path) for r in rows]
    out[:, 1] = [r.path.count("/") for r in rows]
    out[:, 2] = [len(r.query) for r in rows]
    out[:, 3] = [len(r.body) if r.body else 0 for r in rows]
    out[:, 4] = [r.n_params for r in rows]
    out[:, 5] = [r.max_value_len for r in rows]
    out[:, :6] = np.log1p(out[:, :6])
    col = len(_SHAPE)
    out[:, col : col + k] = classes / denom[:, None]
    col += k
    out[:, col] = _entropy(seg, buf, n, lens, denom)
    out[:, col + 1] = (denom - classes[:, 0] - classes[:, 1]) * (lens > 0) / denom
    col += len(_TEXT)
    out[:, col : col + len(_COUNTS)] = np.log1p(counts)
    col += len(_COUNTS)
    m = len(COMPONENTS) + 1
    out[:, col : col + m] = np.array([r.profile for r in rows], dtype=np.float64).reshape(n, m)
    col += m
    sig = np.array([r.signatures for r in rows], dtype=np.float64).reshape(n, len(SIG_BUCKETS))
    out[:, col:] = np.log1p(sig)
    return out


def _entropy(
    seg: npt.NDArray[np.int64],
    buf: npt.NDArray[np.uint8],
    n: int,
    lens: npt.NDArray[np.int64],
    denom: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Shannon entropy (bits per byte) of each request's bytes, from sorted (request, byte)
    keys: log2(L) - sum(c log2 c) / L over the byte counts c."""
    if buf.size == 0:
        return np.zeros(n)
    keys = np.sort(seg * 256 + buf)
    change = np.empty(keys.size, dtype=bool)
    change[0] = True
    np.not_equal(keys[1:], keys[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    c = np.diff(np.append(starts, keys.size)).astype(np.float64)
    clogc = np.bincount(keys[starts] // 256, weights=c * np.log2(c), minlength=n)
    return np.where(lens > 0, np.log2(denom) - clogc / denom, 0.0)
