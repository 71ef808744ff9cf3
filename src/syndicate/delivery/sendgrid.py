"""SendGrid: v3 ``POST /v3/mail/send``, one request per message (STANDARDS PV-3).

Why not 1,000 personalizations per call: in v3 the content (subject aside) belongs to the
request, and a personalization can change only recipients, headers, custom_args and
template substitutions. Our messages are finished per recipient (the unsubscribe and
preference links sit in both bodies), so sharing one body would mean turning the
rendered digest back into a template with ``substitutions`` and letting SendGrid render
it: a second template language, and a 400 for one bad address would refuse the whole
call with no per-recipient result. So each message is its own request with one
personalization, and throughput comes from ``connections`` requests in flight.

A 202 means *queued*, nothing more (delivery is reported by the Event Webhook, which
receives our ``custom_args``: delivery_id, edition_id, channel). The provider message id
is the ``X-Message-Id`` header. 400/413 → failed with SendGrid's ``errors`` messages.
SendGrid builds and signs the MIME itself; our extra headers go in ``headers``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

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


class SendGridOptions(HTTPBackendOptions):
    """``[delivery.sendgrid]``."""

    api_key: SecretStr | None = Field(None, description="API key with Mail Send access.")
    api_key_file: Path | None = Field(None, description="File holding the API key.")


class SendGridBackend(HTTPAPIBackend):
    """Sends each message as one v3 mail/send request; 202 → ``queued``."""

    name: ClassVar[str] = "sendgrid"
    Options: ClassVar[type[BackendOptions]] = SendGridOptions
    options: SendGridOptions
    default_base_url: ClassVar[str] = "https://api.sendgrid.com"
    max_batch: ClassVar[int] = 100
    messages_per_request: ClassVar[int] = 1
    secret_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    def build_request(self, chunk: Sequence[OutboundMessage]) -> APIRequest:
        """``POST /v3/mail/send`` for the one message of ``chunk``."""
        (message,) = chunk
        return APIRequest(
            "/v3/mail/send",
            json=self._payload(message),
            headers={"Authorization": f"Bearer {self.secret('api_key')}"},
        )

    @staticmethod
    def _payload(message: OutboundMessage) -> dict[str, Any]:
        to: dict[str, str] = {"email": message.to_email}
        if message.to_name:
            to["name"] = message.to_name
        sender: dict[str, str] = {"email": message.from_email}
        if message.from_name:
            sender["name"] = message.from_name
        # SendGrid requires text/plain before text/html.
        content = [
            {"type": kind, "value": value}
            for kind, value in (("text/plain", message.text), ("text/html", message.html))
            if value
        ]
        payload: dict[str, Any] = {
            "personalizations": [{"to": [to]}],
            "from": sender,
            "subject": message.subject,
            "content": content,
            # custom_args values must be strings; they come back in every event.
            "custom_args": {
                "delivery_id": str(message.delivery_id),
                "edition_id": str(message.edition_id),
                "channel": message.channel,
            },
        }
        if message.headers:
            payload["headers"] = dict(message.headers)
        return payload

    def parse_response(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """202 (200 in sandbox mode): queued, with ``X-Message-Id``."""
        (message,) = chunk
        return [
            DeliveryResult(
                message.delivery_id,
                "queued",
                provider_message_id=response.headers.get("X-Message-Id"),
                raw={"status": response.status_code},
            )
        ]

    def parse_error(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """400/413...: failed, with the messages of SendGrid's ``errors`` array."""
        body = response_body(response)
        errors = body.get("errors") if isinstance(body, Mapping) else None
        if not isinstance(errors, list):
            return super().parse_error(chunk, response)
        text = "; ".join(
            str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors
        )
        error = f"sendgrid: HTTP {response.status_code}: {text}"
        return [DeliveryResult(m.delivery_id, "failed", error=error, raw=body) for m in chunk]
