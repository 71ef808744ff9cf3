"""The lean path for published files: every answer's headers made once, kept with the bytes.

A feed or archive page is served many times between two builds, so everything about
its answer that does not depend on the request is computed when its file is first read
(or read again after a rebuild) and kept in memory: the bytes of each coding (identity,
the build's gzip copy, and Brotli when it is smaller than gzip), the strong ETag,
Last-Modified, and the header lists of the 200 and the 304 — as ASGI header pairs and
as the raw HTTP/1.1 head :mod:`syndicate.web.fastlane` writes to the socket. A request
then costs a dictionary lookup, two ``stat`` calls (the manifest's and the served
file's: a rebuild renames new files in, which changes inode, mtime or size, so it is
seen by the next request without hashing anything), and the validator comparison.

The rules are those of :mod:`syndicate.web.feeds` (STANDARDS A6, WS-1): strong ETag and
Last-Modified (HT-1); 304 for a matching ``If-None-Match`` (weak comparison, lists,
``*``) or, without one, a satisfied ``If-Modified-Since``, with the same ETag,
Last-Modified, Cache-Control, Vary and Date as the 200 (HT-2); ``Vary: Accept-Encoding``
on every answer; ``Link`` ``rel=self`` and one ``rel=hub`` per hub; HEAD gets a GET's
headers. Each coding has its own ETag (``-gz``, ``-br``), so a validator of one coding
never validates another (RFC 9110 §8.8.3).

:class:`LeanApp` is the Starlette app with this path in front of its router: a GET or
HEAD of a published file is answered here; every other request (a miss, a 404, any
other page) goes through the router as before.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from syndicate.web.conditional import (
    etag_matches,
    http_date,
    is_not_modified,
    preferred_codings,
)
from syndicate.web.published import Manifest, PublishedFiles, etag_of

__all__ = ["LeanApp", "LeanFiles", "Resource", "Variant", "caddy_etag", "nginx_etag"]

EtagStyle = Literal["content", "nginx", "caddy"]
_StatKey = tuple[int, int, int, int]

CACHE_BYTES = 64 * 1024 * 1024
"""Bytes of file bodies kept in memory; past it the oldest-read resources are dropped."""
BROTLI_BEST_UP_TO = 256 * 1024
"""Brotli's best quality (11) costs ~1 ms per KiB; larger files get a fast quality (5)."""

_PAGE = re.compile(r"^[1-9][0-9]{0,8}$")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_VARY = (b"vary", b"Accept-Encoding")
_SUFFIX = {"identity": "", "gzip": ".gz", "br": ""}  # br is made from the identity file

try:  # Brotli is optional: without the package, clients get gzip.
    import brotli as _brotli
except ImportError:  # pragma: no cover - brotli is a core dependency
    _brotli = None


def nginx_etag(mtime: int, size: int) -> str:
    """The ETag nginx's static module gives a file: its mtime and size in hex."""
    return f'"{mtime:x}-{size:x}"'


def caddy_etag(mtime: int, size: int) -> str:
    """The ETag Caddy's file_server (2.6) gives a file: its mtime in whole seconds and
    its size, each in base 36, run together."""
    return f'"{_base36(mtime)}{_base36(size)}"'


def _base36(number: int) -> str:
    # Go's strconv.FormatInt(n, 36): lower-case digits, "0" for zero, "-" when negative.
    if number < 0:
        return "-" + _base36(-number)
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if not number:
            return digits


@dataclass(frozen=True, slots=True)
class Variant:
    """One coding of a published file, with both answers' headers made in advance.

    The header lists lack ``Date`` (added per second) and, for the raw heads, the final
    blank line, so the caller adds ``Date`` and ``Connection`` as needed.
    """

    coding: str
    key: _StatKey  # of the file the bytes came from, to notice a rebuild
    body: bytes
    etag: str
    mtime: int
    last_modified: str
    ok_headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]
    ok_head: bytes
    not_modified_head: bytes


@dataclass(slots=True)
class Resource:
    """A published URL: the file behind it and what its answers always say."""

    relative: str  # under the output folder
    media_type: str
    cache_control: str
    links: tuple[tuple[str, str], ...]  # (url, rel)
    variants: dict[str, Variant | None] = field(default_factory=dict)  # None: no such copy
    size: int = 0  # bytes of the variants' bodies, for the memory budget
    brotli_for: _StatKey | None = None  # the identity file the Brotli verdict is for
    absolute: str = ""  # the identity file's path


def _stat_key(st: os.stat_result) -> _StatKey:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _link(url: str, rel: str) -> bytes:
    # Percent-encode anything a header may not carry (an IRI in a hub URL, say).
    safe = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    return f'<{safe}>; rel="{rel}"'.encode("latin-1")


def _raw(status: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    return status + b"".join(name + b": " + value + b"\r\n" for name, value in headers)


class LeanFiles:
    """The published files as ready answers, looked up by URL path.

    ``answer(path, ...)`` is the whole per-request work; paths that are not a published
    feed or archive page give None, and the caller lets its router answer them.
    """

    def __init__(
        self,
        files: PublishedFiles,
        etag_style: EtagStyle = "content",
        cache_bytes: int = CACHE_BYTES,
    ) -> None:
        self.files = files
        self.etag_style = etag_style
        self._root = str(files.root)
        self._cache_bytes = cache_bytes
        self._cached = 0
        self._manifest: Manifest | None = None
        self._resources: dict[str, Resource] = {}

    # -- per request ---------------------------------------------------------------------

    def answer(
        self,
        path: str,
        accept_encoding: bytes | None,
        if_none_match: bytes | None,
        if_modified_since: bytes | None,
        *,
        check_manifest: bool = True,
    ) -> tuple[bool, Variant] | None:
        """``(not_modified, variant)`` for a GET or HEAD of ``path``, or None.

        None means ``path`` is not a published file as things are on disk now; the
        caller's router answers it (with a 404). ``check_manifest=False`` skips the
        manifest's ``stat`` for a caller that checked it moments ago (the fast lane,
        within one event loop iteration); the served file is always checked.
        """
        resource = self.resource(path, check_manifest=check_manifest)
        if resource is None:
            return None
        variant = self.variant(resource, accept_encoding)
        if variant is None:
            return None
        if if_none_match is not None:
            # The common poller sends back exactly the ETag it got: no parsing then.
            inm = if_none_match.decode("latin-1")
            return (inm == variant.etag or etag_matches(inm, variant.etag)), variant
        if if_modified_since is not None:
            ims = if_modified_since.decode("latin-1")
            if ims == variant.last_modified:
                return True, variant
            return is_not_modified(None, ims, variant.etag, variant.mtime), variant
        return False, variant

    def resource(self, path: str, *, check_manifest: bool = True) -> Resource | None:
        """The published resource at URL ``path``, or None."""
        if not path.startswith("/feeds/"):
            return None
        manifest = self._manifest
        if check_manifest or manifest is None:
            manifest = self.files.manifest()  # one stat; a new object after a change
            if manifest is not self._manifest:
                self._manifest = manifest
                self._resources.clear()
                self._cached = 0
            if manifest is None:
                return None
        found = self._resources.get(path)
        if found is None:
            found = _describe(manifest, path)
            if found is not None:
                found.absolute = os.path.join(self._root, found.relative)
                self._resources[path] = found
        return found

    def variant(self, resource: Resource, accept_encoding: bytes | None) -> Variant | None:
        """The best coding the client accepts that exists on disk now, read if it changed."""
        for coding in preferred_codings(accept_encoding):
            found = self._brotli(resource) if coding == "br" else self._file(resource, coding)
            if found is not None:
                return found
        return None

    # -- loading ---------------------------------------------------------------------------

    def _file(self, resource: Resource, coding: str) -> Variant | None:
        """The identity file or the build's gzip copy, as on disk now (one ``stat``)."""
        path = resource.absolute + _SUFFIX[coding]  # str, not Path: this runs per request
        try:
            key = _stat_key(os.stat(path))
        except OSError:
            return None  # no such copy (a gzip copy is optional)
        known = resource.variants.get(coding)
        if known is not None and known.key == key:
            return known
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode):
                    return None
                body = fh.read()
        except OSError:
            return None
        variant = self._variant(resource, coding, _stat_key(st), body, int(st.st_mtime))
        self._keep(resource, coding, variant)
        return variant

    def _brotli(self, resource: Resource) -> Variant | None:
        """Brotli made in memory from the identity bytes, kept only when it is smaller
        than the gzip copy (or, without one, than the identity file)."""
        if _brotli is None:
            return None
        identity = self._file(resource, "identity")
        if identity is None:
            return None
        if resource.brotli_for == identity.key:
            return resource.variants.get("br")
        body = _compress_br(identity.body)
        try:
            rival = os.stat(resource.absolute + ".gz").st_size
        except OSError:
            rival = len(identity.body)
        variant = None
        if len(body) < rival:
            variant = self._variant(resource, "br", identity.key, body, identity.mtime)
        self._keep(resource, "br", variant)
        resource.brotli_for = identity.key
        return variant

    def _etag(self, coding: str, body: bytes, mtime: int, source_size: int) -> str:
        if self.etag_style != "content":
            made = nginx_etag if self.etag_style == "nginx" else caddy_etag
            tag = made(mtime, source_size)
            return tag[:-1] + '-br"' if coding == "br" else tag
        if coding == "br":
            return f'"{etag_of(body, False)[1:-1]}-br"'
        return etag_of(body, coding == "gzip")

    def _variant(
        self, resource: Resource, coding: str, key: _StatKey, body: bytes, mtime: int
    ) -> Variant:
        last_modified = http_date(mtime)
        etag = self._etag(coding, body, mtime, key[3] if coding != "br" else len(body))
        validators = [
            (b"etag", etag.encode("latin-1")),
            (b"last-modified", last_modified.encode("latin-1")),
            (b"cache-control", resource.cache_control.encode("latin-1")),
            _VARY,
            _NOSNIFF,
        ]
        ok = [
            *validators,
            (b"content-type", f"{resource.media_type}; charset=utf-8".encode("latin-1")),
            *([(b"content-encoding", coding.encode())] if coding != "identity" else []),
            (b"content-length", str(len(body)).encode()),
            *((b"link", _link(url, rel)) for url, rel in resource.links),
        ]
        return Variant(
            coding=coding,
            key=key,
            body=body,
            etag=etag,
            mtime=mtime,
            last_modified=last_modified,
            ok_headers=ok,
            not_modified_headers=validators,
            ok_head=_raw(b"HTTP/1.1 200 OK\r\n", ok),
            not_modified_head=_raw(b"HTTP/1.1 304 Not Modified\r\n", validators),
        )

    def _keep(self, resource: Resource, coding: str, variant: Variant | None) -> None:
        old = resource.variants.get(coding)
        if old is not None:
            resource.size -= len(old.body)
            self._cached -= len(old.body)
        if variant is not None and len(variant.body) > self._cache_bytes // 4:
            # A huge file is read each time rather than evicting everything else.
            resource.variants.pop(coding, None)
            resource.brotli_for = None
            return
        resource.variants[coding] = variant
        if variant is not None:
            resource.size += len(variant.body)
            self._cached += len(variant.body)
        while self._cached > self._cache_bytes and self._resources:
            # Oldest first: dicts keep insertion order, so this costs nothing per request.
            oldest = next(iter(self._resources))
            self._cached -= self._resources.pop(oldest).size


def _compress_br(body: bytes) -> bytes:
    assert _brotli is not None
    quality = 11 if len(body) <= BROTLI_BEST_UP_TO else 5
    return bytes(_brotli.compress(body, quality=quality))


def _describe(manifest: Manifest, path: str) -> Resource | None:
    """What the manifest says about URL ``path``; paths are only built from a channel and
    extension it lists and a page number of digits, so no request reaches another file
    (``.syndicate/`` state, temporary files) under the output folder."""
    if not path.startswith("/feeds/"):
        return None
    parts = path[len("/feeds/") :].split("/")
    if len(parts) == 1:
        name, _, ext = parts[0].rpartition(".")
        channel = manifest.channels.get(name)
        if channel is None or ext not in channel.formats:
            return None
        fmt = channel.formats[ext]
        links = ((fmt.url, "self"), *((hub, "hub") for hub in channel.hubs))
        return Resource(
            f"feeds/{channel.name}.{ext}",
            fmt.media_type,
            f"public, max-age={channel.max_age}",
            links,
        )
    if len(parts) == 3 and parts[1] == "archive":
        channel = manifest.channels.get(parts[0])
        page, _, ext = parts[2].partition(".")
        if channel is None or ext not in channel.formats or not _PAGE.match(page):
            return None
        relative = f"feeds/{channel.name}/archive/{page}.{ext}"
        return Resource(
            relative,
            channel.formats[ext].media_type,
            f"public, max-age={channel.archive_max_age}, immutable",
            ((f"{manifest.base_url}/{relative}", "self"),),
        )
    return None


def request_headers(
    headers: list[tuple[bytes, bytes]],
) -> tuple[bytes | None, bytes | None, bytes | None]:
    """``Accept-Encoding``, ``If-None-Match`` and ``If-Modified-Since`` from lower-cased
    header pairs (repeated ones joined with commas, as RFC 9110 §5.3 allows)."""
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in _WANTED:
            found[name] = found[name] + b", " + value if name in found else value
    return (
        found.get(b"accept-encoding"),
        found.get(b"if-none-match"),
        found.get(b"if-modified-since"),
    )


_WANTED = frozenset((b"accept-encoding", b"if-none-match", b"if-modified-since"))


class LeanApp(Starlette):
    """Starlette with :class:`LeanFiles` answering published files before the router."""

    lean: LeanFiles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and path.startswith("/feeds/")
        ):
            found = self.lean.answer(path, *request_headers(scope["headers"]))
            if found is not None:
                not_modified, variant = found
                date = (b"date", http_date().encode("latin-1"))
                if not_modified:
                    headers, status, body = variant.not_modified_headers, 304, b""
                else:
                    headers, status = variant.ok_headers, 200
                    body = b"" if scope["method"] == "HEAD" else variant.body
                await send(
                    {"type": "http.response.start", "status": status, "headers": [*headers, date]}
                )
                await send({"type": "http.response.body", "body": body})
                return
        await super().__call__(scope, receive, send)
