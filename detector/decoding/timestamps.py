"""Event-time parsing: every timestamp shape the supported formats emit -> epoch seconds UTC.

Parsing a full ISO or CLF timestamp per line is the single most expensive step
after JSON, and consecutive log lines share their seconds prefix, so the
parser memoises the expensive part (the calendar arithmetic of the seconds
prefix) and only parses the cheap tail (fraction, zone) per call.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from detector.decoding.base import DecodeError

MIN_TS = 315532800.0  # 1980-01-01T00:00:00Z: older event times are corrupt clocks, not logs
MAX_TS = 4102444800.0  # 2100-01-01T00:00:00Z
CACHE_LIMIT = 100_000  # entries per memo before it is cleared (bounded memory)
# Memo keys come from the input: only short ones are kept, so the memos' bytes are
# bounded too ("10/Oct/2000:13:55:36 -0700" is 26 characters, a zone at most 6).
CLF_KEY_MAX = 40
ZONE_KEY_MAX = 8

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check(ts: float, value: object) -> float:
    # NaN fails both comparisons, so it lands here too.
    if MIN_TS <= ts < MAX_TS:
        return ts
    raise DecodeError(f"absurd timestamp: {_excerpt(value)}")


def _from_number(v: float, value: object) -> float:
    if v != v or v < 0 or v >= 1e20 or v == math.inf:
        raise DecodeError(f"absurd timestamp: {_excerpt(value)}")
    # Epoch units by magnitude: seconds until 1e11 (year 5138), then ms, µs, ns
    # (OTel exporters write nanoseconds, JavaScript writes milliseconds).
    if v > 1e11:
        if v > 1e17:
            v = v / 1e9
        elif v > 1e14:
            v = v / 1e6
        else:
            v = v / 1e3
    return _check(float(v), value)


def _zone_offset(zone: str) -> int | None:
    """Seconds east of UTC for 'Z', '+02:00', '+0200', '+02'; None when unparseable."""
    if zone in ("Z", "z", ""):
        return 0
    sign = zone[0]
    if sign not in "+-":
        return None
    digits = zone[1:].replace(":", "", 1)
    if len(digits) == 2:
        digits += "00"
    if len(digits) != 4 or not digits.isdigit() or not digits.isascii():
        return None
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        return None
    off = hours * 3600 + minutes * 60
    return -off if sign == "-" else off


class TimestampParser:
    """Parses event times with a bounded memo; one instance per decoder.

    >>> p = TimestampParser()
    >>> p.parse("2026-03-17T09:06:00.250Z"), p.parse("17/Mar/2026:10:06:00 +0100")
    (1773738360.25, 1773738360.0)
    """

    __slots__ = ("_iso", "_clf", "_zones")

    def __init__(self) -> None:
        self._iso: dict[str, float] = {}  # "YYYY-MM-DDTHH:MM:SS" -> epoch of that second, UTC
        self._clf: dict[str, float] = {}  # whole CLF string -> epoch
        self._zones: dict[str, int | None] = {}

    def parse(self, value: object) -> float:
        """Epoch seconds UTC for one timestamp value, or DecodeError."""
        if type(value) is str:
            # Fast path: a cached seconds prefix with a "Z" or "+hh:mm" tail. Cached
            # bases lie a day inside the sane range, so zone and fraction cannot
            # push the result out of it and no range check is needed here.
            base = self._iso.get(value[:19])
            if base is not None:
                last = value[-1]
                if last == "Z":
                    if len(value) == 20:
                        return base
                    frac = value[19:-1]
                elif len(value) == 19:
                    return base
                elif value[-3] == ":" and value[-6] in "+-":
                    off = self._zones.get(value[-6:])
                    if off is None:
                        return self._parse_iso(value)
                    base -= off
                    if len(value) == 25:
                        return base
                    frac = value[19:-6]
                else:
                    return self._parse_iso(value)
                if frac[0] == ".":
                    # float() is lenient ("_", exponents, non-ASCII digits), but a
                    # result in [0, 1) can only move the time within its second.
                    try:
                        f = float(frac)
                    except ValueError:
                        f = -1.0
                    if 0.0 <= f < 1.0:
                        return base + f
                return self._parse_iso(value)
            if len(value) >= 19 and value[4] == "-":
                return self._parse_iso(value)
            if len(value) >= 20 and value[2] == "/":
                return self._parse_clf(value)
            if value[:1] == "[":
                return self._parse_clf(value.strip("[]"))
            return self._parse_other(value)
        if type(value) is float or type(value) is int:
            return _from_number(value, value)
        if value is None:
            raise DecodeError("missing timestamp")
        raise DecodeError(f"bad timestamp: {_excerpt(value)}")

    __call__ = parse

    def _parse_iso(self, s: str) -> float:
        key = s[:19]
        base = self._iso.get(key)
        if base is None:
            base = self._iso_base(key)
            if base is None:
                return self._parse_fallback(s)
            if MIN_TS + 86400 <= base < MAX_TS - 86400:
                if len(self._iso) >= CACHE_LIMIT:
                    self._iso.clear()
                self._iso[key] = base
        if len(s) == 19:
            return _check(base, s)
        rest = s[19:]
        if rest == "Z":
            return _check(base, s)
        # Split "[.fraction][zone]"; the zone starts at Z or the last +/-.
        last = rest[-1]
        if last == "Z" or last == "z":
            frac, zone = rest[:-1], "Z"
        else:
            cut = max(rest.rfind("+"), rest.rfind("-"))
            if cut >= 0:
                frac, zone = rest[:cut], rest[cut:]
            else:
                frac, zone = rest, ""
        off = self._zones.get(zone, -1)
        if off == -1:
            off = _zone_offset(zone)
            if len(self._zones) < 1000 and len(zone) <= ZONE_KEY_MAX:
                self._zones[zone] = off
        if off is None:
            return self._parse_fallback(s)
        ts = base - off
        if frac:
            digits = frac[1:]
            if frac[0] not in ".," or not digits.isdigit() or not digits.isascii():
                return self._parse_fallback(s)
            digits = digits[:9]  # sub-nanosecond digits carry no information
            ts += int(digits) / 10 ** len(digits)
        return _check(ts, s)

    @staticmethod
    def _iso_base(key: str) -> float | None:
        if not (
            key[7] == "-"
            and key[10] in "T t"
            and key[13] == ":"
            and key[16] == ":"
            and (key[:4] + key[5:7] + key[8:10] + key[11:13] + key[14:16] + key[17:19]).isdigit()
            and key.isascii()
        ):
            return None
        try:
            dt = datetime(
                int(key[:4]),
                int(key[5:7]),
                int(key[8:10]),
                int(key[11:13]),
                int(key[14:16]),
                int(key[17:19]),
                tzinfo=UTC,
            )
        except ValueError:
            return None
        return dt.timestamp()

    def _parse_clf(self, s: str) -> float:
        ts = self._clf.get(s)
        if ts is None:
            ts = self._clf_uncached(s)
            if len(s) <= CLF_KEY_MAX:
                if len(self._clf) >= CACHE_LIMIT:
                    self._clf.clear()
                self._clf[s] = ts
        return ts

    def _clf_uncached(self, s: str) -> float:
        # "10/Oct/2000:13:55:36 -0700"; strptime's %b is locale-dependent, so by hand.
        bad = DecodeError(f"bad timestamp: {_excerpt(s)}")
        head, _, zone = s.partition(" ")
        parts = head.split(":")
        if len(parts) != 4:
            raise bad
        dmy = parts[0].split("/")
        month = _MONTHS.get(dmy[1]) if len(dmy) == 3 else None
        fields = [dmy[0], dmy[-1], *parts[1:]]
        if month is None or not all(f.isdigit() and f.isascii() for f in fields):
            raise bad
        off = _zone_offset(zone.strip()) if zone else 0
        if off is None:
            raise bad
        try:
            hour, minute, second = (int(p) for p in parts[1:])
            dt = datetime(int(dmy[2]), month, int(dmy[0]), hour, minute, second, tzinfo=UTC)
        except ValueError:
            raise bad from None
        return _check(dt.timestamp() - off, s)

    def _parse_other(self, s: str) -> float:
        s = s.strip()
        if not s or s == "-":
            raise DecodeError("missing timestamp")
        # Epoch digit strings: "1700000000", nginx $msec "1700000000.123".
        if s.replace(".", "", 1).isdigit() and s.isascii():
            return _from_number(float(s), s)
        return self._parse_fallback(s)

    @staticmethod
    def _parse_fallback(s: str) -> float:
        try:
            dt = datetime.fromisoformat(s.strip().replace(" ", "T", 1))
        except ValueError:
            raise DecodeError(f"bad timestamp: {_excerpt(s)}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)  # no zone means UTC (CONTRACTS: event time is UTC)
        try:
            ts = dt.timestamp()
        except (OverflowError, ValueError, OSError):
            raise DecodeError(f"absurd timestamp: {_excerpt(s)}") from None
        return _check(ts, s)


_DEFAULT = TimestampParser()


def parse_timestamp(value: object) -> float:
    """Epoch seconds UTC for an ISO 8601, CLF, epoch (s/ms) or nginx msec timestamp.

    >>> parse_timestamp("2026-03-17 09:06:00+01:00"), parse_timestamp(1773738360000)
    (1773734760.0, 1773738360.0)
    """
    return _DEFAULT.parse(value)
