"""Amazon SES v2 through boto3: ``SendEmail`` with our raw MIME (STANDARDS PV-5).

One call per message, one recipient each (SES counts quotas in recipients and allows 50
per message; per-recipient links mean one each anyway). ``Content.Raw`` sends our own
bytes, so our DKIM signature survives; ``EmailTags`` carry delivery_id, edition_id and
channel to the event destinations. boto3's own retries are turned off: a retry is the
outbox's decision (PV-1). SES sends no Retry-After: pace with ``rate`` (the account's
``MaxSendRate``).

Errors: TooManyRequestsException, LimitExceededException (daily quota), throttling and
5xx → deferred; AccountSuspendedException, SendingPausedException → failed with policy
(the channel pauses); MessageRejected, BadRequestException → failed;
MailFromDomainNotVerifiedException, NotFoundException (configuration set), refused or
missing credentials → a configuration error.

boto3 is the optional extra ``ses`` (``pip install 'syndicate[ses]'``) and is imported
only when this backend is built.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from syndicate.delivery.api import UNKNOWN_OUTCOME, USER_AGENT, APIBackend, APIBackendOptions
from syndicate.delivery.base import BackendOptions, RateLimiter
from syndicate.errors import BackendConfigError, ConfigError, TransportError
from syndicate.models import DeliveryResult, OutboundMessage

LATER = frozenset(
    {"TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException"}
)
POLICY = frozenset({"AccountSuspendedException", "SendingPausedException"})
CONFIG = frozenset(
    {
        "MailFromDomainNotVerifiedException",
        "NotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
    }
)


class SESOptions(APIBackendOptions):
    """``[delivery.ses]``; credentials default to boto3's chain (environment, profile, role)."""

    region: str = Field("us-east-1", description="AWS region of the SES account.")
    endpoint_url: str | None = Field(None, description="API address; default AWS's.")
    configuration_set: str | None = Field(None, description="Configuration set name.")
    access_key_id: str | None = Field(None, description="AWS access key id.")
    secret_access_key: SecretStr | None = Field(None, description="AWS secret access key.")
    secret_access_key_file: Path | None = Field(None, description="File holding it.")


def _import_boto() -> tuple[ModuleType, ModuleType, ModuleType]:
    try:
        return (
            importlib.import_module("boto3"),
            importlib.import_module("botocore.config"),
            importlib.import_module("botocore.exceptions"),
        )
    except ImportError as err:
        raise ConfigError(
            "the ses delivery backend needs boto3: pip install 'syndicate[ses]'"
        ) from err


class SESBackend(APIBackend):
    """Sends each message with SES v2 ``SendEmail`` (raw content); success → ``sent``."""

    name: ClassVar[str] = "ses"
    Options: ClassVar[type[BackendOptions]] = SESOptions
    options: SESOptions
    max_batch: ClassVar[int] = 100
    messages_per_request: ClassVar[int] = 1
    secret_fields: ClassVar[tuple[str, ...]] = ("secret_access_key",)
    optional_secrets: ClassVar[frozenset[str]] = frozenset({"secret_access_key"})

    def __init__(self, options: BackendOptions, *, limiter: RateLimiter | None = None) -> None:
        super().__init__(options, limiter=limiter)
        self._boto3, self._botocore_config, self._errors = _import_boto()
        self._client: Any = None
        self._client_lock = threading.Lock()

    def client(self) -> Any:
        """The sesv2 client (thread-safe, shared by the sending threads), made on first use."""
        with self._client_lock:
            if self._client is None:
                opts = self.options
                secret = opts.secret_access_key
                session = self._boto3.session.Session(
                    aws_access_key_id=opts.access_key_id,
                    aws_secret_access_key=secret.get_secret_value() if secret else None,
                    region_name=opts.region,
                )
                config = self._botocore_config.Config(
                    connect_timeout=opts.connect_timeout,
                    read_timeout=opts.timeout,
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    max_pool_connections=opts.connections,
                    user_agent_extra=USER_AGENT,
                )
                self._client = session.client(
                    "sesv2", endpoint_url=opts.endpoint_url, config=config
                )
            return self._client

    def close(self) -> None:
        """Stop the request threads and drop the client."""
        super().close()
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def call(self, chunk: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """``SendEmail`` for the one message of ``chunk``."""
        (message,) = chunk
        request: dict[str, Any] = {
            "FromEmailAddress": message.from_email,
            "Destination": {"ToAddresses": [message.to_email]},
            "Content": {"Raw": {"Data": message.raw}},
            "EmailTags": [
                {"Name": "delivery_id", "Value": str(message.delivery_id)},
                {"Name": "edition_id", "Value": str(message.edition_id)},
                {"Name": "channel", "Value": message.channel},
            ],
        }
        if self.options.configuration_set:
            request["ConfigurationSetName"] = self.options.configuration_set
        self.request_limiter.acquire(1)
        try:
            answer = self.client().send_email(**request)
        except self._errors.ClientError as err:
            return [self._refused(message, err)]
        except self._errors.BotoCoreError as err:
            raise self._transport_error(err) from err
        message_id = answer.get("MessageId")
        raw = {"MessageId": message_id}
        return [
            DeliveryResult(message.delivery_id, "sent", provider_message_id=message_id, raw=raw)
        ]

    def _refused(self, message: OutboundMessage, err: Any) -> DeliveryResult:
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        text = f"ses: {code or status}: {error.get('Message', '')}"
        raw = {"code": code, "status": status, "message": error.get("Message")}
        if code in CONFIG or status in (401, 403):
            raise BackendConfigError(text, backend=self.name) from err
        if code in LATER or status == 429 or status >= 500:
            raise TransportError(text, backend=self.name) from err
        if code in POLICY:
            return DeliveryResult(
                message.delivery_id, "failed", retryable=True, policy=True, error=text, raw=raw
            )
        return DeliveryResult(message.delivery_id, "failed", error=text, raw=raw)

    def _transport_error(self, err: Exception) -> Exception:
        errors = self._errors
        if isinstance(err, errors.NoCredentialsError | errors.PartialCredentialsError):
            return BackendConfigError(f"ses: {err}", backend=self.name)
        if isinstance(err, errors.ConnectTimeoutError | errors.EndpointConnectionError):
            return TransportError(f"ses: cannot reach SES: {err}", backend=self.name)
        return TransportError(f"ses: {err}; {UNKNOWN_OUTCOME}", backend=self.name)
