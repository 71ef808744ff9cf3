"""Mailgun: ``POST /v3/<domain>/messages.mime``, our own MIME, one request per message.

Why not batch sending with ``recipient-variables`` (up to 1,000 recipients per call,
STANDARDS PV-4): that sends one body in which Mailgun substitutes
``%recipient.key%`` placeholders, so the digest would have to be rendered as a template
and Mailgun would build the final messages. Our messages are finished and possibly
DKIM-signed bytes per recipient; ``messages.mime`` sends exactly those bytes (Mailgun
adds its headers, which relaxed canonicalization tolerates, but click tracking rewrites
links and breaks our body hash: keep tracking off for the sending domain if you sign).
Throughput comes from ``connections`` requests in flight.

The envelope recipient is ``to``; ``v:delivery_id`` (with edition and channel) comes back
in every event and webhook; the channel is the ``o:tag``. Mailgun answers 200
``{"id": "<...>", "message": "Queued. Thank you."}`` → queued. A 404 (domain not
found) is a configuration error like 401/403; other 4xx → failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import quote

import requests
from pydantic import Field, SecretStr

from syndicate.delivery.base import BackendOptions
from syndicate.delivery.httpapi import (
    APIRequest,
    HTTPAPIBackend,
    HTTPBackendOptions,
    response_body,
)
from syndicate.models import DeliveryResult, OutboundMessage

REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}


class MailgunOptions(HTTPBackendOptions):
    """``[delivery.mailgun]``."""

    domain: str = Field(min_length=1, description="Sending domain registered at Mailgun.")
    region: Literal["us", "eu"] = Field("us", description="Region of the domain.")
    api_key: SecretStr | None = Field(None, description="Private API key.")
    api_key_file: Path | None = Field(None, description="File holding the API key.")


class MailgunBackend(HTTPAPIBackend):
    """Sends each message's raw MIME through ``messages.mime``; 200 → ``queued``."""

    name: ClassVar[str] = "mailgun"
    Options: ClassVar[type[BackendOptions]] = MailgunOptions
    options: MailgunOptions
    max_batch: ClassVar[int] = 100
    messages_per_request: ClassVar[int] = 1
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    @property
    def base_url(self) -> str:
        """The ``base_url`` option, else the API address of the domain's region."""
        return self.options.base_url or REGIONS[self.options.region]

    def build_request(self, chunk: Sequence[OutboundMessage]) -> APIRequest:
        """A multipart form: ``to``, ``message`` (the raw bytes), ``v:`` and ``o:`` fields."""
        (message,) = chunk
        return APIRequest(
            f"/v3/{quote(self.options.domain, safe='')}/messages.mime",
            data={
                "to": message.to_email,
                "v:delivery_id": str(message.delivery_id),
                "v:edition_id": str(message.edition_id),
                "v:channel": message.channel,
                "o:tag": message.channel,
            },
            files={"message": ("message.eml", message.raw, "message/rfc822")},
            auth=("api", self.secret("api_key")),
        )

    def parse_response(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """``{"id": "<message-id>", "message": "Queued. Thank you."}`` → queued."""
        (message,) = chunk
        body = response_body(response)
        # A 2xx means Mailgun took the message; a missing id only costs us the match.
        found = body.get("id") if isinstance(body, Mapping) else None
        message_id = str(found).strip("<>") if found else None
        return [
            DeliveryResult(message.delivery_id, "queued", provider_message_id=message_id, raw=body)
        ]

    def parse_error(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """400/413...: failed, with Mailgun's ``message``."""
        body = response_body(response)
        if not isinstance(body, Mapping) or "message" not in body:
            return super().parse_error(chunk, response)
        error = f"mailgun: HTTP {response.status_code}: {body['message']}"
        return [DeliveryResult(m.delivery_id, "failed", error=error, raw=body) for m in chunk]
