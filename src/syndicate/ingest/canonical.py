"""Canonical URLs: the key under which two links to one page compare equal.

An article's public ``url`` stays as its source gave it (the ``page`` source already
gives the page's ``<link rel=canonical>``); :func:`url_key` is only for comparison, and
the store keeps it (hashed) so that a second source's link to the same page finds the
first article's story cluster (``docs/sources.md``, "One story, several sources").

The key of ``https://www.example.com/news/story/amp/?utm_source=x&id=7#top`` is
``example.com/news/story?id=7``:

* the scheme, the fragment, a default port and a trailing ``/`` are ignored;
* the host is lower-cased and one leading ``www.``, ``amp.``, ``m.`` or ``mobile.`` is
  dropped (the same site's aliases);
* a last path segment ``amp`` (``/story/amp``), or ``.amp`` / ``.amp.html`` at the end
  of the path, is dropped (the AMP copy of a page);
* tracking parameters are dropped (:data:`TRACKING_PARAMS`, and every name starting
  with one of :data:`TRACKING_PREFIXES`; names compare case-insensitively); the rest are
  sorted, so their order does not matter.

A link to a site's home page (path ``/``, no query left) has no key: feeds that link
every item to the home page would otherwise put all their items in one story.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit

# Query parameters that say who sent the reader, never which page it is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",  # Facebook
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid",  # Google Ads
        "msclkid",  # Microsoft Ads
        "yclid",  # Yandex
        "twclid",  # X / Twitter
        "igshid",  # Instagram
        "li_fat_id",  # LinkedIn
        "ttclid",  # TikTok
        "mc_cid", "mc_eid",  # Mailchimp
        "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsctatracking",  # HubSpot
        "mkt_tok",  # Marketo
        "_ga", "_gl",  # Google Analytics cross-domain
        "oly_anon_id", "oly_enc_id",  # Omeda
        "vero_id", "vero_conv",  # Vero
        "wickedid",  # Wicked Reports
        "s_cid", "cmpid", "cmp", "ncid", "ocid", "icid", "smid", "sr_share",  # publishers
        "ref", "ref_src", "ref_url", "referrer",  # referrers
        "spm", "scm",  # Alibaba
        "amp", "outputtype",  # the AMP copy (?amp, ?outputType=amp)
    }
)  # fmt: skip

# Every parameter whose name starts with one of these is tracking.
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "matomo_", "hsa_", "itm_", "at_", "wt.")

HOST_ALIASES = ("www.", "amp.", "m.", "mobile.")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking(name: str) -> bool:
    """True when a query parameter ``name`` only tracks the visit."""
    folded = name.casefold()
    return folded in TRACKING_PARAMS or folded.startswith(TRACKING_PREFIXES)


def canonical_form(url: str) -> str:
    """``url`` as compared: host without aliases, path without AMP, no tracking.

    ``""`` for anything but an absolute http(s) URL, and for a site's home page.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:  # "http://[x", a port out of range: not a URL we can compare
        return ""
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host:
        return ""
    for alias in HOST_ALIASES:
        if host.startswith(alias) and host.count(".") >= 2:
            host = host[len(alias) :]
            break
    if port is not None and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        host = f"{host}:{port}"
    path = _without_amp(parts.path).rstrip("/")
    query = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking(name)
    )
    if not path and not query:
        return ""
    return host + (path or "/") + (f"?{urlencode(query)}" if query else "")


def _without_amp(path: str) -> str:
    trimmed = path.rstrip("/")
    if trimmed.endswith("/amp"):
        return trimmed[: -len("/amp")]
    for suffix in (".amp.html", ".amp"):
        if trimmed.endswith(suffix):
            return trimmed[: -len(suffix)]
    return path


def url_key(url: str, canonical: str = "") -> str:
    """The stored comparison key of an article's link: a hash of :func:`canonical_form`
    of ``canonical`` (a ``<link rel=canonical>`` the source saw) when it has one, else
    of ``url``; ``""`` when neither gives a form.

    Hashed (32 hex digits of SHA-256) so the indexed column has one short width,
    whatever the length of the URL.
    """
    form = canonical_form(canonical) if canonical else ""
    form = form or canonical_form(url)
    if not form:
        return ""
    return hashlib.sha256(form.encode("utf-8")).hexdigest()[:32]
