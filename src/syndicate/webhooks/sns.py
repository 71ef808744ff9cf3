"""Amazon SNS message verification, for SES events delivered through an SNS topic.

Following AWS's "Verifying the signatures of Amazon SNS messages":

* ``SigningCertURL`` must be ``https`` on a host matching ``cert_host_pattern``
  (``sns.<region>.amazonaws.com``), so nobody can make us trust their own certificate;
  tests set ``cert_scheme = "http"``, which is only allowed to a loopback host.
* The certificate is fetched once per URL (no redirects, a size cap, no environment
  proxies) and cached; it must be within its validity dates.
* The string to sign is ``name\\nvalue\\n`` for the documented fields of the message
  type, in order (``Subject`` only when present); ``SignatureVersion`` 1 is RSA
  PKCS#1 v1.5 with SHA-1, 2 with SHA-256.
* ``TopicArn`` must be one of ``topic_arns``: anyone can publish a validly signed SNS
  message from their own AWS account, so the signature alone proves nothing about whose
  topic it is. ``Timestamp`` must be within ``max_age_seconds``.

``SubscriptionConfirmation`` is confirmed by fetching its ``SubscribeURL`` (checked like
the certificate URL) once the message has verified.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from syndicate.config import SESWebhookSettings
from syndicate.errors import WebhookAuthError, WebhookError, WebhookPayloadError
from syndicate.webhooks.events import to_utc
from syndicate.webhooks.verify import check_fresh

PROVIDER = "ses"
MESSAGE_TYPES = ("Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation")
_CONFIRM_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRM_FIELDS,
    "UnsubscribeConfirmation": _CONFIRM_FIELDS,
}
HASHES: Mapping[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
MAX_CERT_BYTES = 64 * 1024
CACHE_SIZE = 16
TIMEOUT = (5.0, 10.0)  # connect, read (seconds)

Fetch = Callable[[str], bytes]


class SNSFetchError(WebhookError):
    """A certificate or SubscribeURL could not be fetched: try again later (502)."""

    status = 502


def http_get(url: str) -> bytes:
    """GET ``url`` with timeouts, no redirects, no proxies from the environment and a
    size cap; SNSFetchError on any failure or a non-200 answer."""
    with requests.Session() as session:
        session.trust_env = False  # SE-5: environment proxies only when configured
        try:
            with session.get(url, timeout=TIMEOUT, allow_redirects=False, stream=True) as reply:
                if reply.status_code != 200:
                    raise SNSFetchError(
                        f"ses: GET {url} answered {reply.status_code}", provider=PROVIDER
                    )
                body = reply.raw.read(MAX_CERT_BYTES + 1, decode_content=True)
        except requests.RequestException as err:
            raise SNSFetchError(f"ses: GET {url} failed: {err}", provider=PROVIDER) from err
    if len(body) > MAX_CERT_BYTES:
        raise SNSFetchError(f"ses: {url} is larger than {MAX_CERT_BYTES} bytes", provider=PROVIDER)
    return body


class SNSVerifier:
    """Verifies SNS messages for the topics in ``settings``; caches certificates.

    Thread-safe. ``fetch`` GETs a URL (replaceable for callers with their own client).
    """

    def __init__(self, settings: SESWebhookSettings, fetch: Fetch = http_get) -> None:
        self.settings = settings
        self.fetch = fetch
        self._host = re.compile(settings.cert_host_pattern)
        self._certs: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._lock = threading.Lock()

    def check_url(self, url: str, what: str) -> None:
        """WebhookAuthError unless ``url`` has the allowed scheme and host."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != self.settings.cert_scheme or not self._host.fullmatch(host):
            raise WebhookAuthError(
                f"ses: {what} {url!r} is not {self.settings.cert_scheme}:// on a host "
                f"matching {self.settings.cert_host_pattern!r}",
                provider=PROVIDER,
            )
        if parts.scheme == "http" and not _loopback(host):
            raise WebhookAuthError(
                f"ses: {what} {url!r}: plain http is allowed only to a loopback host",
                provider=PROVIDER,
            )

    def verify(self, message: Mapping[str, Any], now: datetime) -> None:
        """Check topic, certificate, signature and age of a parsed SNS message."""
        kind = message.get("Type")
        if kind not in SIGNED_FIELDS:
            raise WebhookPayloadError(f"ses: unknown SNS message Type {kind!r}", provider=PROVIDER)
        topic = message.get("TopicArn")
        if topic not in self.settings.topic_arns:
            raise WebhookAuthError(
                f"ses: topic {topic!r} is not in webhooks.ses.topic_arns", provider=PROVIDER
            )
        hash_of = HASHES.get(str(message.get("SignatureVersion")))
        if hash_of is None:
            raise WebhookAuthError(
                f"ses: unsupported SignatureVersion {message.get('SignatureVersion')!r}",
                provider=PROVIDER,
            )
        key = self._certificate(str(message.get("SigningCertURL", "")), now).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookAuthError("ses: signing certificate has no RSA key", provider=PROVIDER)
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
            key.verify(signature, string_to_sign(message), padding.PKCS1v15(), hash_of())
        except (InvalidSignature, binascii.Error, ValueError) as err:
            raise WebhookAuthError("ses: SNS signature does not verify", provider=PROVIDER) from err
        published = to_utc(message.get("Timestamp"))
        if published is None:
            raise WebhookPayloadError("ses: SNS message without Timestamp", provider=PROVIDER)
        check_fresh(PROVIDER, published.timestamp(), now, self.settings.max_age_seconds)

    def _certificate(self, url: str, now: datetime) -> x509.Certificate:
        self.check_url(url, "SigningCertURL")
        with self._lock:
            cert = self._certs.get(url)
            if cert is not None:
                self._certs.move_to_end(url)
        if cert is None:
            try:
                cert = x509.load_pem_x509_certificate(self.fetch(url))
            except ValueError as err:
                raise WebhookAuthError(
                    f"ses: {url} is not a PEM certificate", provider=PROVIDER
                ) from err
            with self._lock:
                self._certs[url] = cert
                while len(self._certs) > CACHE_SIZE:
                    self._certs.popitem(last=False)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise WebhookAuthError(f"ses: certificate {url} is not valid now", provider=PROVIDER)
        return cert

    def confirm(self, message: Mapping[str, Any]) -> str:
        """Confirm a verified SubscriptionConfirmation; returns the topic."""
        url = str(message.get("SubscribeURL", ""))
        self.check_url(url, "SubscribeURL")
        self.fetch(url)
        return str(message["TopicArn"])


def read(body: bytes) -> dict[str, Any]:
    """The SNS message in ``body``; WebhookPayloadError if it is not one (a topic with
    raw message delivery sends no signature, and is refused here)."""
    try:
        message = json.loads(body)
    except ValueError as err:
        raise WebhookPayloadError(f"ses: body is not JSON: {err}", provider=PROVIDER) from err
    if not isinstance(message, dict) or "Signature" not in message or "Type" not in message:
        raise WebhookPayloadError(
            "ses: expected a signed SNS message (turn raw message delivery off)",
            provider=PROVIDER,
        )
    return message


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The bytes SNS signed: ``name\\nvalue\\n`` for each field of the type, in order."""
    out = []
    for name in SIGNED_FIELDS[str(message["Type"])]:
        value = message.get(name)
        if value is None:
            if name == "Subject":
                continue  # only signed when present
            raise WebhookPayloadError(f"ses: SNS message without {name}", provider=PROVIDER)
        out.append(f"{name}\n{value}\n")
    return "".join(out).encode("utf-8")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
