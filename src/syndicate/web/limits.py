"""Reading a request body without ever holding more than a cap of it.

The cap holds however the client frames the body: an honest ``Content-Length`` over it
is refused before a byte is read; a lying or missing one (chunked) is refused as soon as
the bytes received pass it.
"""

from __future__ import annotations

from starlette.requests import Request

FORM_MAX_BYTES = 8 * 1024
"""The largest body a public form route reads. Our forms send well under 2 KiB (a
preferences form with many channels ticked); the RFC 8058 one-click body is 26 bytes."""


class BodyTooLarge(Exception):
    """The request body is larger than the route accepts (answer 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body of ``request``; :class:`BodyTooLarge` past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)
