"""The one exception tree of syndicate.

::

    SyndicateError
    ├── ConfigError            a settings file, key or channel definition is wrong
    ├── StoreError             the database could not be opened, migrated or written
    ├── SourceError            a source could not be read (carries the source name)
    │   ├── FetchError         transport: DNS, connect, timeout, TLS, size cap
    │   │   └── BlockedAddressError   the host resolves to a non-public address
    │   ├── HTTPStatusError    the server answered, but not with content (4xx/5xx)
    │   └── ContentError       the bytes arrived but could not be understood
    ├── DigestError            (syndicate.digest.errors) an edition cannot be composed
    │   ├── TemplateError      (syndicate.digest.errors) a template fails; names file, line
    │   ├── RenderLimitError   (syndicate.digest.errors) e.g. HTML over the size limit
    │   └── ReviewError        (syndicate.digest.errors) a hold/approve/edit not allowed now
    ├── InvalidForm            (syndicate.subscribers.signup) a submitted form; names each field
    ├── MessageError           a message cannot be built (e.g. CR/LF in a header value)
    ├── DeliveryError          a backend could not deliver a whole batch
    │   ├── TransportError     connection, TLS, timeout, 5xx: retry later
    │   └── BackendConfigError the provider refused our credentials (401/403): stop
    ├── QueueError             the task queue's broker could not take the tasks
    └── WebhookError           a provider webhook request is not accepted (carries status)
        ├── WebhookAuthError   missing or wrong signature, credentials or token: 401/403
        ├── WebhookPayloadError the request is authentic but cannot be read: 400
        └── WebhookNotConfigured no such provider, or no credentials set for it: 404

Transport failures (``FetchError``) stay apart from "the server said no"
(``HTTPStatusError``), because they are retried differently. Every error keeps its
context (source, URL, path) and chains its cause with ``raise ... from err``.
"""

from __future__ import annotations


class SyndicateError(Exception):
    """Root of every error syndicate raises on purpose."""


class ConfigError(SyndicateError):
    """A configuration file, key or channel definition is invalid.

    ``problems`` holds one line per problem: where (file and key), what was expected,
    and what was found.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class StoreError(SyndicateError):
    """The store could not be opened, migrated or written."""


class SourceError(SyndicateError):
    """A source could not be read. ``source`` names it; ``url`` is set for HTTP sources."""

    def __init__(self, message: str, *, source: str = "", url: str = "") -> None:
        super().__init__(message)
        self.source = source
        self.url = url


class FetchError(SourceError):
    """The bytes could not be fetched: DNS, connect, timeout, TLS, or the size cap."""


class BlockedAddressError(FetchError):
    """The URL's host resolves to an address that is not globally routable."""


class HTTPStatusError(SourceError):
    """The server answered with an error status. ``retry_after`` is in seconds if given."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        retry_after: float | None = None,
        source: str = "",
        url: str = "",
    ) -> None:
        super().__init__(message, source=source, url=url)
        self.status = status
        self.retry_after = retry_after


class ContentError(SourceError):
    """The bytes arrived but could not be understood (not a feed, bad front matter...)."""


class MessageError(SyndicateError):
    """A message cannot be built, e.g. a header value holds a CR or LF (STANDARDS SE-2)."""


class DeliveryError(SyndicateError):
    """A backend could not deliver a whole batch. ``backend`` names it."""

    def __init__(self, message: str, *, backend: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.backend = backend
        self.retry_after = retry_after


class TransportError(DeliveryError):
    """The batch did not reach the provider, or it answered 5xx/429: retry later."""


class BackendConfigError(DeliveryError):
    """The provider refused our credentials or configuration (401/403): dispatch stops."""


class QueueError(SyndicateError):
    """Tasks could not be published to the broker (``[dispatch] queue = "celery"``)."""


class WebhookError(SyndicateError):
    """A provider webhook request is not accepted. ``provider`` names the provider and
    ``status`` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message)
        self.provider = provider


class WebhookAuthError(WebhookError):
    """The request is not proven to come from the provider: a missing or wrong
    signature, stale timestamp, replayed token, wrong credentials or certificate."""

    status = 403


class WebhookPayloadError(WebhookError):
    """The request body cannot be read as the provider's documented payload."""

    status = 400


class WebhookNotConfigured(WebhookError):
    """No such provider, or its webhook has no credentials configured: nothing is
    accepted unauthenticated."""

    status = 404
