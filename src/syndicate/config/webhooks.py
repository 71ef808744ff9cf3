"""The ``[webhooks]`` section: one table per provider."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)

from syndicate.config.base import Section


class _WebhookProvider(Section):
    """Keys every provider's webhook table takes."""

    max_age_seconds: float = Field(
        600.0,
        gt=0,
        description="Reject a signed timestamp further than this from now (replays, SE-7).",
    )


class PostmarkWebhookSettings(_WebhookProvider):
    """``[webhooks.postmark]``: Postmark signs nothing; it sends basic-auth credentials
    and custom headers that we configure in its webhook settings (STANDARDS PV-2)."""

    username: str = Field("", description="HTTP basic-auth user name; empty for none.")
    password: SecretStr | None = Field(None, description="HTTP basic-auth password.")
    password_file: Path | None = Field(None, description="File holding the password.")
    token: SecretStr | None = Field(
        None, description="Shared secret expected in the X-Webhook-Token header."
    )
    token_file: Path | None = Field(None, description="File holding the token.")


class SendGridWebhookSettings(_WebhookProvider):
    """``[webhooks.sendgrid]``: the Signed Event Webhook's verification key (PV-3)."""

    public_key: SecretStr | None = Field(
        None, description="Verification key: base64 DER as SendGrid shows it, or PEM."
    )
    public_key_file: Path | None = Field(None, description="File holding the key.")


class MailgunWebhookSettings(_WebhookProvider):
    """``[webhooks.mailgun]``: the HTTP webhook signing key (PV-4)."""

    signing_key: SecretStr | None = Field(None, description="Webhook signing key.")
    signing_key_file: Path | None = Field(None, description="File holding the key.")


class SESWebhookSettings(_WebhookProvider):
    """``[webhooks.ses]``: SES events through an SNS topic (PV-5)."""

    max_age_seconds: float = Field(
        86400.0,
        gt=0,
        description="Reject an SNS message published longer ago than this (SNS retries).",
    )
    topic_arns: tuple[str, ...] = Field(
        (), description="SNS topics whose messages are accepted; empty accepts none."
    )
    cert_scheme: Literal["https", "http"] = Field(
        "https", description="Scheme of SigningCertURL; http only to a loopback host (tests)."
    )
    cert_host_pattern: str = Field(
        r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?",
        description="Regular expression the SigningCertURL host must match in full.",
    )

    @field_validator("cert_host_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"a regular expression ({err})") from err
        return value


class WebhookSettings(Section):
    """Provider webhooks for bounces and complaints (``/webhooks/<provider>``)."""

    max_body_bytes: int = Field(
        5_000_000, gt=0, description="Largest webhook request body accepted (bytes)."
    )
    postmark: PostmarkWebhookSettings = PostmarkWebhookSettings()
    sendgrid: SendGridWebhookSettings = SendGridWebhookSettings()
    mailgun: MailgunWebhookSettings = MailgunWebhookSettings()
    ses: SESWebhookSettings = SESWebhookSettings()
