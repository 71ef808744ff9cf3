"""HTTP validators and content negotiation for static representations (STANDARDS A6).

Pure functions over header values, so the rules are tested without a server.
"""

from __future__ import annotations

import time
from email.utils import formatdate, parsedate_to_datetime

_NOW: list[tuple[int, str]] = [(0, "")]


def http_date(timestamp: float | None = None) -> str:
    """An IMF-fixdate (RFC 9110 §5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``.

    Without ``timestamp``, the current time; formatted once per second, since every
    response carries it.
    """
    if timestamp is not None:
        return formatdate(timestamp, usegmt=True)
    second = int(time.time())
    cached = _NOW[0]
    if cached[0] != second:
        cached = (second, formatdate(second, usegmt=True))
        _NOW[0] = cached
    return cached[1]


def parse_http_date(value: str) -> float | None:
    """Seconds since the epoch from an HTTP date, or None when it is not one."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # RFC 9110: HTTP dates are GMT
        return None
    return parsed.timestamp()


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def etag_matches(if_none_match: str, etag: str) -> bool:
    """True when ``If-None-Match`` lists ``etag`` or is ``*`` (weak comparison, §13.1.2)."""
    if if_none_match.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(_opaque(tag) == wanted for tag in if_none_match.split(","))


def is_not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, mtime: int
) -> bool:
    """Whether a GET/HEAD may be answered 304 (HT-2).

    ``If-None-Match`` takes precedence: when present, ``If-Modified-Since`` is ignored
    (RFC 9110 §13.2.2). A date that cannot be parsed is ignored, as the RFC requires.
    """
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    if if_modified_since:
        since = parse_http_date(if_modified_since)
        return since is not None and mtime <= since
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (an explicit ``q=0`` refuses it).

    ``gzip`` or ``x-gzip`` with q > 0, or ``*`` with q > 0 when gzip is not named.
    No header means any coding is acceptable (RFC 9110 §12.5.3), but identity is the
    safe choice for clients that send nothing, so this returns False then.
    """
    if not accept_encoding:
        return False
    star: float | None = None
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        q = _quality(params)
        name = coding.strip().lower()
        if name in ("gzip", "x-gzip"):
            return q > 0
        if name == "*":
            star = q
    return star is not None and star > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


_CODINGS: dict[bytes | None, tuple[str, ...]] = {}


def preferred_codings(accept_encoding: bytes | None) -> tuple[str, ...]:
    """The codings to try for ``Accept-Encoding``, best first, ending with ``identity``.

    ``br`` and ``gzip`` (or ``x-gzip``) are offered when named, or covered by ``*``,
    with q > 0; the higher q goes first, Brotli on a tie (it is the smaller). No header
    gives identity only, as :func:`accepts_gzip` does. ``identity`` is always the last
    resort rather than a 406: a reader that refuses it still gets the feed. Results are
    remembered per header value (clients send few distinct ones).
    """
    known = _CODINGS.get(accept_encoding)
    if known is not None:
        return known
    ranked: list[tuple[float, int, str]] = []
    if accept_encoding:
        named: dict[str, float] = {}
        for part in accept_encoding.decode("latin-1").split(","):
            coding, _, params = part.strip().partition(";")
            name = coding.strip().lower()
            named[name if name != "x-gzip" else "gzip"] = _quality(params)
        star = named.get("*", 0.0)
        for order, coding in enumerate(("br", "gzip")):
            q = named.get(coding, star)
            if q > 0:
                ranked.append((-q, order, coding))
    result = (*(coding for _, _, coding in sorted(ranked)), "identity")
    if len(_CODINGS) > 256:  # a client inventing values cannot grow this for ever
        _CODINGS.clear()
    _CODINGS[accept_encoding] = result
    return result
