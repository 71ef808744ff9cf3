"""One entry point per request: verify, normalise, apply (the web route only calls it).

:class:`WebhookReceiver` reads each provider's secrets once, and answers
:meth:`~WebhookReceiver.receive` with a :class:`Receipt` or a
:class:`~syndicate.errors.WebhookError` whose ``status`` is the HTTP status to send.
Verification always comes first where the provider's scheme allows it (Postmark's
credentials and SendGrid's signature are in the headers, so their bodies are parsed only
once verified; Mailgun and SNS sign inside the JSON, which must be read to be checked).
Nothing in an unverified body is read further, and a refused request changes nothing in
the store.

JSON nested deeper than :data:`MAX_DEPTH` is refused (400) before it is parsed: every
provider's payload is a few levels deep, and ``json`` recurses per level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from itertools import accumulate

from cryptography.hazmat.primitives.asymmetric import ec

from syndicate.config import Settings, read_secret
from syndicate.delivery.breakers import Breakers, breakers_for
from syndicate.delivery.registry import make_backend
from syndicate.errors import WebhookNotConfigured, WebhookPayloadError
from syndicate.store import Store
from syndicate.webhooks import mailgun, postmark, sendgrid, ses, sns
from syndicate.webhooks.apply import Applied, apply_events
from syndicate.webhooks.events import Parsed

log = logging.getLogger(__name__)

PROVIDERS = ("postmark", "sendgrid", "mailgun", "ses")
MAX_DEPTH = 32
"""The deepest JSON nesting accepted; the providers' payloads are under ten levels."""

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one accepted request did."""

    provider: str
    applied: Applied | None = None
    ignored: int = 0
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        """A small JSON-able summary for the response body."""
        outcomes = dict(self.applied.outcomes) if self.applied else {}
        out: dict[str, object] = {"provider": self.provider, "ignored": self.ignored, **outcomes}
        if self.note:
            out["note"] = self.note
        return out


Handler = Callable[[bytes, Mapping[str, str], datetime], Receipt]


class WebhookReceiver:
    """Verifies and applies provider webhooks for the instance in ``settings``.

    Thread-safe. ``fetch`` GETs SNS certificate and subscription URLs (see
    :func:`syndicate.webhooks.sns.http_get`).
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetch: sns.Fetch = sns.http_get,
        *,
        breakers: Breakers | None = None,
    ) -> None:
        self.settings = settings
        # Hard bounces and complaints count against the circuit breakers; a trip mails
        # the operators through the instance's backend.
        self.breakers = breakers or breakers_for(store, settings, lambda: make_backend(settings))
        self.options = settings.webhooks
        self.store = store
        self.fetch = fetch
        self._handlers: Mapping[str, Handler] = {
            "postmark": self._postmark,
            "sendgrid": self._sendgrid,
            "mailgun": self._mailgun,
            "ses": self._ses,
        }

    def receive(
        self, provider: str, body: bytes, headers: Mapping[str, str], now: datetime
    ) -> Receipt:
        """Handle one request to ``/webhooks/<provider>``.

        ``headers`` must have lower-case names. Raises WebhookError (its ``status`` is
        the answer): 404 for an unknown or unconfigured provider, 403 when the request
        is not proven authentic, 400 when it cannot be read; StoreError if the store
        fails (answer 5xx so the provider retries).
        """
        handler = self._handlers.get(provider)
        if handler is None:
            raise WebhookNotConfigured(f"no webhook for provider {provider!r}")
        try:
            return handler(body, headers, now)
        except RecursionError as err:  # a backstop: check_depth runs before each parse
            raise WebhookPayloadError(
                f"{provider}: JSON nested too deeply", provider=provider
            ) from err

    def _apply(self, provider: str, parsed: Parsed, now: datetime) -> Receipt:
        applied = apply_events(self.store, parsed.events, now, breakers=self.breakers)
        return Receipt(provider, applied, parsed.ignored)

    # --- providers ---------------------------------------------------------------------

    @cached_property
    def _postmark_secrets(self) -> tuple[str | None, str | None]:
        opts = self.options.postmark
        password = read_secret(opts.password, opts.password_file, self.settings)
        return password, read_secret(opts.token, opts.token_file, self.settings)

    def _postmark(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Receipt:
        username = self.options.postmark.username
        password, token = self._postmark_secrets
        if not (username or password or token):
            raise _not_configured("postmark", "username and password, or token")
        postmark.verify(headers, username=username, password=password, token=token)
        check_depth("postmark", body)
        return self._apply("postmark", postmark.parse(body, now), now)

    @cached_property
    def _sendgrid_key(self) -> ec.EllipticCurvePublicKey | None:
        opts = self.options.sendgrid
        text = read_secret(opts.public_key, opts.public_key_file, self.settings)
        return sendgrid.load_public_key(text) if text else None

    def _sendgrid(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Receipt:
        key = self._sendgrid_key
        if key is None:
            raise _not_configured("sendgrid", "public_key")
        sendgrid.verify(body, headers, key, now, self.options.sendgrid.max_age_seconds)
        check_depth("sendgrid", body)
        return self._apply("sendgrid", sendgrid.parse(body, now), now)

    def _mailgun(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Receipt:
        opts = self.options.mailgun
        key = read_secret(opts.signing_key, opts.signing_key_file, self.settings)
        if not key:
            raise _not_configured("mailgun", "signing_key")
        check_depth("mailgun", body)  # Mailgun signs inside the JSON: it must be read
        signed = mailgun.read(body)
        mailgun.verify(signed, key, now, opts.max_age_seconds)
        return self._apply("mailgun", mailgun.parse(signed, now), now)

    @cached_property
    def _sns(self) -> sns.SNSVerifier:
        return sns.SNSVerifier(self.options.ses, self.fetch)

    def _ses(self, body: bytes, headers: Mapping[str, str], now: datetime) -> Receipt:
        if not self.options.ses.topic_arns:
            raise _not_configured("ses", "topic_arns")
        check_depth("ses", body)  # SNS signs inside the JSON: it must be read
        message = sns.read(body)
        self._sns.verify(message, now)
        kind = message["Type"]
        if kind == "SubscriptionConfirmation":
            topic = self._sns.confirm(message)
            log.info("ses webhook: confirmed the subscription to %s", topic)
            return Receipt("ses", note=f"subscription to {topic} confirmed")
        if kind == "UnsubscribeConfirmation":
            log.warning("ses webhook: %s unsubscribed this endpoint", message["TopicArn"])
            return Receipt("ses", note="unsubscribe noted")
        inner = str(message.get("Message", ""))
        check_depth("ses", inner.encode("utf-8", "replace"))
        parsed = ses.parse(inner, str(message["MessageId"]), now)
        return self._apply("ses", parsed, now)


def _not_configured(provider: str, keys: str) -> WebhookNotConfigured:
    return WebhookNotConfigured(
        f"{provider} webhook is not configured: set {keys} under [webhooks.{provider}]",
        provider=provider,
    )


def check_depth(provider: str, body: bytes) -> None:
    """WebhookPayloadError (400) if ``body``'s JSON nests deeper than :data:`MAX_DEPTH`.

    Counts brackets outside strings without parsing; malformed JSON is left for the
    parser to refuse.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    steps = (1 if step == 1 else -1 for step in brackets.translate(_DEPTH_STEPS))
    if max(accumulate(steps), default=0) > MAX_DEPTH:
        raise WebhookPayloadError(
            f"{provider}: JSON nested more than {MAX_DEPTH} levels deep", provider=provider
        )
