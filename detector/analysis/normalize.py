"""Decoded text variants of one request field, for signature matching.

Attackers hide payloads behind layers of encoding that the application will
peel off before using the value (double URL-encoding, ``%uXXXX``, overlong
UTF-8, HTML entities, JSON escapes, SQL comments). Signatures therefore match
on a few decoded *variants* of each field rather than on the raw bytes.

Everything here is hand-written scanning with ``str`` methods: no Python
``re`` on attacker-controlled input, and every step is linear in the input,
which is itself capped at :data:`MAX_FIELD_CHARS` characters.
"""

from __future__ import annotations

import codecs
import unicodedata
from html.entities import html5

__all__ = ["MAX_FIELD_CHARS", "MAX_ROUNDS", "decode", "sql_compact", "variants"]

MAX_FIELD_CHARS = 64 * 1024
MAX_ROUNDS = 4  # one layer for the client's own encoding + up to three evasion layers

_HEX = frozenset("0123456789abcdefABCDEF")
_ENTITY_MAX = 32  # longest named entity we try to resolve
# Browsers are strict about entity case, but payloads are often case-mangled (&TAB;, &NewLine;)
# and a signature miss costs more than a mis-decoded entity, so fall back to any case.
_ENTITIES_ANY_CASE = {k.lower(): v for k, v in html5.items()} | {
    k: v for k, v in html5.items() if k == k.lower()
}

# Characters that IIS-style "best fit" mappings and NFKC leave as lookalikes.
_BEST_FIT = str.maketrans(
    {
        "\u2215": "/",  # division slash
        "\u2044": "/",  # fraction slash
        "\u2216": "\\",  # set minus
        "\uff3c": "\\",
        "\u2024": ".",  # one dot leader
        "\u3002": ".",  # ideographic full stop (NFKC maps the halfwidth one here)
        "\u02bc": "'",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\ufe64": "<",
        "\ufe65": ">",
        "\u00a0": " ",
        "\x00": None,
    }
)


def _overlong(err: UnicodeError) -> tuple[str, int]:
    """Decode error handler: read overlong UTF-8 the lenient way old servers did.

    ``%c0%af`` is an overlong '/', ``%e0%80%ae`` an overlong '.'; anything else
    that is not UTF-8 is read as Latin-1 so no byte is lost.
    """
    assert isinstance(err, UnicodeDecodeError)
    b, i = err.object, err.start
    b0 = b[i]
    n = len(b)
    if b0 in (0xC0, 0xC1) and i + 1 < n:
        return chr(((b0 & 0x1F) << 6) | (b[i + 1] & 0x3F)), i + 2
    if b0 == 0xE0 and i + 2 < n and b[i + 1] & 0xC0 == 0x80 and b[i + 2] & 0xC0 == 0x80:
        return chr(((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F)), i + 3
    if b0 == 0xF0 and i + 3 < n and all(b[i + k] & 0xC0 == 0x80 for k in (1, 2, 3)):
        return chr(((b[i + 2] & 0x3F) << 6) | (b[i + 3] & 0x3F)), i + 4
    if b0 == 0xF8 and i + 4 < n and all(b[i + k] & 0xC0 == 0x80 for k in (1, 2, 3, 4)):
        return chr(((b[i + 3] & 0x3F) << 6) | (b[i + 4] & 0x3F)), i + 5
    if b0 == 0xFC and i + 5 < n and all(b[i + k] & 0xC0 == 0x80 for k in (1, 2, 3, 4, 5)):
        return chr(((b[i + 4] & 0x3F) << 6) | (b[i + 5] & 0x3F)), i + 6
    return chr(b0), i + 1


codecs.register_error("detector-overlong", _overlong)


def _percent(text: str) -> str:
    """One round of %XX and %uXXXX decoding, bytes reassembled as lenient UTF-8."""
    parts = text.split("%")
    out = bytearray(parts[0].encode("utf-8", "surrogatepass"))
    for part in parts[1:]:
        if len(part) >= 5 and part[0] in "uU" and all(c in _HEX for c in part[1:5]):
            cp = int(part[1:5], 16)
            ch = "\ufffd" if 0xD800 <= cp <= 0xDFFF else chr(cp)
            out += ch.encode("utf-8")
            out += part[5:].encode("utf-8", "surrogatepass")
        elif len(part) >= 2 and part[0] in _HEX and part[1] in _HEX:
            out.append(int(part[:2], 16))
            out += part[2:].encode("utf-8", "surrogatepass")
        else:
            out.append(0x25)
            out += part.encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "detector-overlong")


def _entities(text: str) -> str:
    """Resolve HTML character references (&#39; &#x27; &lt; &colon; ...)."""
    parts = text.split("&")
    out = [parts[0]]
    for part in parts[1:]:
        if part.startswith("#"):
            hexa = part[1:2] in ("x", "X")
            j = 2 if hexa else 1
            k = j
            digits = _HEX if hexa else frozenset("0123456789")
            while k < len(part) and k - j < 8 and part[k] in digits:
                k += 1
            if k > j:
                cp = int(part[j:k], 16 if hexa else 10)
                ch = chr(cp) if 0 < cp < 0x110000 and not 0xD800 <= cp <= 0xDFFF else "\ufffd"
                out.append(ch + part[k + 1 if part[k : k + 1] == ";" else k :])
                continue
        else:
            semi = part.find(";", 0, _ENTITY_MAX)
            if semi > 0:
                name = part[: semi + 1]
                ref = html5.get(name) or _ENTITIES_ANY_CASE.get(name.lower())
                if ref is not None:
                    out.append(ref + part[semi + 1 :])
                    continue
        out.append("&" + part)
    return "".join(out)


_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "/": "/", "\\": "\\", '"': '"', "'": "'"}


def _backslashes(text: str, *, json_like: bool) -> str:
    r"""Resolve \uXXXX and \xXX everywhere; JSON's one-letter escapes in JSON bodies."""
    parts = text.split("\\")
    out = [parts[0]]
    pending_escape = False  # previous part ended an escaped backslash (\\)
    for idx, part in enumerate(parts[1:], start=1):
        if pending_escape:
            pending_escape = False
            out.append(part)
            continue
        if part.startswith(("u", "U")) and len(part) >= 5 and all(c in _HEX for c in part[1:5]):
            cp = int(part[1:5], 16)
            out.append(("\ufffd" if 0xD800 <= cp <= 0xDFFF else chr(cp)) + part[5:])
        elif part.startswith(("x", "X")) and len(part) >= 3 and all(c in _HEX for c in part[1:3]):
            out.append(chr(int(part[1:3], 16)) + part[3:])
        elif json_like and part == "" and idx + 1 < len(parts):
            out.append("\\")  # "\\\\" in JSON is one literal backslash
            pending_escape = True
        elif json_like and part[:1] in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[part[0]] + part[1:])
        else:
            out.append("\\" + part)
    return "".join(out)


def _decode_once(text: str, *, form: bool, json_like: bool) -> str:
    if form and "+" in text:
        text = text.replace("+", " ")
    if "%" in text:
        text = _percent(text)
    if "&" in text:
        text = _entities(text)
    if "\\" in text:
        text = _backslashes(text, json_like=json_like)
    return text


def decode(
    text: str, *, form: bool = False, json_like: bool = False, limit: int = MAX_FIELD_CHARS
) -> str:
    """Peel encoding layers until a fixed point (at most :data:`MAX_ROUNDS`).

    ``form`` reads '+' as a space (query strings, form bodies), on the first
    layer only: a '+' that was itself percent-encoded is a literal plus.

    >>> decode("%2527%20OR%201%3D1--", form=True)
    "' or 1=1--"
    >>> decode("%c0%ae%c0%ae%c0%afetc")
    '../etc'
    """
    text = text[:limit]
    for round_ in range(MAX_ROUNDS):
        nxt = _decode_once(text, form=form and round_ == 0, json_like=json_like)
        if nxt == text:
            break
        text = nxt
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.translate(_BEST_FIT).lower()


def _strip_sql_comments(text: str) -> str:
    """Drop /* */ comments (keeping MySQL /*!50000 ...*/ bodies), '-- ' and '#' tails."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("/*", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        end = text.find("*/", j + 2)
        body_end = n if end < 0 else end
        if text.startswith("/*!", j):
            k = j + 3
            while k < body_end and k < j + 8 and text[k].isdigit():
                k += 1
            out.append(" " + text[k:body_end] + " ")
        else:
            out.append(" ")
        i = n if end < 0 else end + 2
    text = "".join(out)
    lines = []
    for line in text.split("\n"):
        cut = line.find("-- ")
        hash_ = line.find("#")
        cuts = [c for c in (cut, hash_) if c >= 0]
        if line.endswith("--"):
            cuts.append(len(line) - 2)
        lines.append(line[: min(cuts)] + " " if cuts else line)
    return "\n".join(lines)


def sql_compact(text: str) -> str:
    """Comment-free, whitespace-collapsed form of already-decoded text.

    >>> sql_compact("1/**/union/*!50000select*/ 1 -- x")
    '1 union select 1'
    """
    if "/*" in text or "--" in text or "#" in text:
        text = _strip_sql_comments(text)
    return " ".join(text.split())


def variants(
    text: str, *, form: bool = False, json_like: bool = False, limit: int = MAX_FIELD_CHARS
) -> tuple[str, ...]:
    """Distinct lowercased variants of one field: raw, decoded, SQL-compacted.

    Only the first ``limit`` characters are considered, which bounds the work.

    The raw form is kept because some evasions are only visible before
    decoding (UTF-7 ``+ADw-``, literal ``%00``).

    >>> variants("id=1%27%2F**%2For%2F**%2F1%3D1", form=True)
    ('id=1%27%2f**%2for%2f**%2f1%3d1', "id=1'/**/or/**/1=1", "id=1' or 1=1")
    """
    text = text[:limit]
    raw = text.lower()
    decoded = decode(text, form=form, json_like=json_like, limit=limit)
    compact = sql_compact(decoded)
    out = [raw]
    for v in (decoded, compact):
        if v not in out:
            out.append(v)
    return tuple(out)
