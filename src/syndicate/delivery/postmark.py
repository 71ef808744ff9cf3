"""Postmark: the batch endpoint, up to 500 messages per call (STANDARDS PV-2).

``POST /email/batch`` takes a JSON array of messages and answers 200 with an array in the
same order, one ``ErrorCode`` per message (0 = accepted), so one call can partly
succeed. Postmark builds and signs the MIME itself from the structured fields; our extra
headers (List-Unsubscribe, List-Unsubscribe-Post, List-Id, Feedback-ID) go in
``Headers``, and ``Metadata`` carries the delivery id so webhooks can be matched (PV-1).
Newsletters must use a broadcast message stream, the default here.

Error codes (https://postmarkapp.com/developer/api/overview#error-codes) and results:
0 sent; 406 inactive recipient → rejected; 405/412/413 the account may not send →
failed, policy (the channel pauses); 10/400/401 token or sender signature → a
configuration error; 100 maintenance and 429 → deferred; any other code (300 invalid
request, 410 too many messages, ...) → failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.utils import formataddr
from pathlib import Path
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr

from syndicate.delivery.api import UNKNOWN_OUTCOME
from syndicate.delivery.base import BackendOptions
from syndicate.delivery.httpapi import (
    APIRequest,
    HTTPAPIBackend,
    HTTPBackendOptions,
    response_body,
)
from syndicate.errors import BackendConfigError, TransportError
from syndicate.models import DeliveryResult, OutboundMessage

CONFIG_CODES = frozenset({10, 400, 401})
ACCOUNT_CODES = frozenset({405, 412, 413})
LATER_CODES = frozenset({100, 429})
INACTIVE_RECIPIENT = 406


class PostmarkOptions(HTTPBackendOptions):
    """``[delivery.postmark]``."""

    server_token: SecretStr | None = Field(None, description="Server API token.")
    server_token_file: Path | None = Field(None, description="File holding the token.")
    message_stream: str = Field("broadcast", description="Message stream ID.")


class PostmarkBackend(HTTPAPIBackend):
    """Sends through Postmark's batch API; results per message from ``ErrorCode``."""

    name: ClassVar[str] = "postmark"
    Options: ClassVar[type[BackendOptions]] = PostmarkOptions
    options: PostmarkOptions
    default_base_url: ClassVar[str] = "https://api.postmarkapp.com"
    max_batch: ClassVar[int] = 500
    messages_per_request: ClassVar[int] = 500
    # Postmark caps a call at 50 MB; our size estimate leaves room for JSON escaping.
    max_request_bytes: ClassVar[int] = 40_000_000
    secret_fields: ClassVar[tuple[str, ...]] = ("server_token",)

    def build_request(self, chunk: Sequence[OutboundMessage]) -> APIRequest:
        """``POST /email/batch`` with one JSON object per message."""
        return APIRequest(
            "/email/batch",
            json=[self._message(m) for m in chunk],
            headers={
                "Accept": "application/json",
                "X-Postmark-Server-Token": self.secret("server_token"),
            },
        )

    def _message(self, message: OutboundMessage) -> dict[str, Any]:
        data: dict[str, Any] = {
            "From": formataddr((message.from_name, message.from_email)),
            "To": formataddr((message.to_name, message.to_email)),
            "Subject": message.subject,
            "Tag": message.channel,
            "MessageStream": self.options.message_stream,
            "Metadata": {
                "delivery_id": str(message.delivery_id),
                "edition_id": str(message.edition_id),
                "channel": message.channel,
            },
        }
        if message.html:
            data["HtmlBody"] = message.html
        if message.text:
            data["TextBody"] = message.text
        if message.headers:
            data["Headers"] = [{"Name": n, "Value": v} for n, v in message.headers]
        return data

    def parse_response(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """Match the answer array to the messages, in order."""
        body = response_body(response)
        if not isinstance(body, list) or len(body) != len(chunk):
            raise TransportError(
                f"postmark: answer does not list {len(chunk)} messages; {UNKNOWN_OUTCOME}",
                backend=self.name,
            )
        return [self._result(m, item) for m, item in zip(chunk, body, strict=True)]

    def parse_error(
        self, chunk: Sequence[OutboundMessage], response: requests.Response
    ) -> list[DeliveryResult]:
        """A 4xx (usually 422) for the whole call: its ``ErrorCode`` applies to each message."""
        body = response_body(response)
        if not isinstance(body, Mapping) or "ErrorCode" not in body:
            return super().parse_error(chunk, response)
        code = body.get("ErrorCode")
        text = f"postmark: HTTP {response.status_code}, ErrorCode {code}: {body.get('Message')}"
        if code in CONFIG_CODES:
            raise BackendConfigError(text, backend=self.name)
        if code in LATER_CODES:
            raise TransportError(text, backend=self.name)
        return [self._result(m, body) for m in chunk]

    def _result(self, message: OutboundMessage, item: Any) -> DeliveryResult:
        if not isinstance(item, Mapping):
            error = f"postmark: unexpected answer {item!r}; {UNKNOWN_OUTCOME}"
            return DeliveryResult(
                message.delivery_id, "deferred", retryable=True, error=error, raw=item
            )
        code = item.get("ErrorCode", 0)
        text = str(item.get("Message", ""))
        delivery_id = message.delivery_id
        if code == 0:
            # Anymail's observation (#392): "delivery may be delayed" means accepted later.
            status = "queued" if "delivery may be delayed" in text else "sent"
            return DeliveryResult(
                delivery_id, status, provider_message_id=item.get("MessageID"), raw=item
            )
        error = f"postmark ErrorCode {code}: {text}"
        if code == INACTIVE_RECIPIENT:
            return DeliveryResult(delivery_id, "rejected", error=error, raw=item)
        if code in LATER_CODES:
            return DeliveryResult(delivery_id, "deferred", retryable=True, error=error, raw=item)
        if code in ACCOUNT_CODES or code in CONFIG_CODES:
            return DeliveryResult(
                delivery_id, "failed", retryable=True, policy=True, error=error, raw=item
            )
        return DeliveryResult(delivery_id, "failed", error=error, raw=item)
