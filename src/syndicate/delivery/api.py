"""The shared base of backends that call a provider's API (STYLE 1; STANDARDS C3).

:class:`APIBackend` owns what every API backend does the same way: it refuses messages
whose header values could inject headers (SE-2) before anything is sent, cuts a batch
into requests (``messages_per_request``, and ``max_request_bytes`` where the provider
caps the size of a call), paces each request to ``rate`` messages per second, runs
requests on ``connections`` threads, and settles the outcome of every request into one
result per message. A subclass implements only :meth:`APIBackend.call`.

It is apart from :mod:`.httpapi`, which implements ``call`` over requests, because a
provider reached through its client library (SES through boto3) shares all of this but
none of the HTTP.
"""

from __future__ import annotations

import logging
import re
import threading
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from syndicate import __version__
from syndicate.config import read_secret
from syndicate.delivery.base import Backend, BackendOptions, Pacer, RateLimiter, deferred
from syndicate.errors import BackendConfigError, ConfigError, DeliveryError, TransportError
from syndicate.models import DeliveryResult, OutboundMessage

# The logger name from before this module was split from httpapi.py: log filters on the
# ``logger`` field keep matching.
log = logging.getLogger("syndicate.delivery.httpapi")

USER_AGENT = f"syndicate/{__version__}"
UNKNOWN_OUTCOME = "the outcome is unknown (possible duplicate on retry)"

# C0 controls but TAB, and DEL: CR and LF would start a new header (SE-2), the others
# have no business in a header value either.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 5322 §2.2: a field name is printable ASCII except the colon.
_FIELD_NAME = re.compile(r"^[!-9;-~]+$")


class APIBackendOptions(BackendOptions):
    """Settings of every API backend (HTTP or SDK)."""

    connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect.")
    timeout: float = Field(30.0, gt=0, description="Seconds to wait for the answer.")
    connections: int = Field(1, ge=1, le=64, description="Requests in flight at once.")


def header_problem(message: OutboundMessage) -> str | None:
    """Why ``message``'s header fields cannot be sent through an API, or ``None``.

    Checks the addresses, names, subject and extra headers for CR, LF and other control
    characters (STANDARDS SE-2) and the extra header names for RFC 5322 syntax.
    """
    fields = [
        ("To", message.to_email),
        ("To name", message.to_name),
        ("From", message.from_email),
        ("From name", message.from_name),
        ("Subject", message.subject),
        *message.headers,
    ]
    for name, value in fields:
        if _CONTROL.search(value):
            return f"header {name!r} holds a control character (CR/LF injection, SE-2)"
    for name, _value in message.headers:
        if not _FIELD_NAME.match(name):
            return f"header name {name!r} is not a valid field name (RFC 5322 §2.2)"
    return None


class APIBackend(Backend):
    """A backend that sends each request to a provider and reads the answer.

    Subclasses set ``messages_per_request`` (and ``max_request_bytes`` when the provider
    caps the size of a call), list secret options in ``secret_fields`` (each also read
    from ``<name>_file``; required unless in ``optional_secrets``) and implement
    :meth:`call`. The constructor raises ConfigError when a required secret is missing.
    """

    Options: ClassVar[type[BackendOptions]] = APIBackendOptions
    options: APIBackendOptions
    max_batch: ClassVar[int] = 100
    messages_per_request: ClassVar[int] = 1
    max_request_bytes: ClassVar[int] = 0
    secret_fields: ClassVar[tuple[str, ...]] = ()
    optional_secrets: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, options: BackendOptions, *, limiter: RateLimiter | None = None) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(f"{type(self).__name__} takes {self.Options.__name__}")
        super().__init__(options)
        for name in self.secret_fields:
            if name not in self.optional_secrets:
                self.secret(name)  # a missing key is a ConfigError now, not at first send
        # Pacing happens per request, in the threads that send, so ``rate`` holds across
        # connections; the base's per-batch pacing is turned off.
        self.request_limiter: Pacer = limiter or RateLimiter(options.rate)
        self.limiter = RateLimiter(0)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def use_limiter(self, limiter: Pacer) -> None:
        """Pace each request with ``limiter``, weighted by the messages it carries."""
        self.request_limiter = limiter

    @classmethod
    def from_settings(cls, options: BackendOptions, settings: Any) -> Backend:
        """Read each secret from its option, the environment or its ``<name>_file``."""
        update: dict[str, Any] = {}
        for name in cls.secret_fields:
            file: Path | None = getattr(options, f"{name}_file", None)
            value = read_secret(getattr(options, name), file, settings)
            if value is not None:
                update[name] = SecretStr(value)
        return cls(options.model_copy(update=update))

    def secret(self, name: str) -> str:
        """The value of the secret option ``name``; ConfigError naming the keys if unset."""
        value: SecretStr | None = getattr(self.options, name)
        if value is None or not value.get_secret_value():
            env = f"SYNDICATE_DELIVERY__{self.name.upper()}__{name.upper()}"
            raise ConfigError(f"[delivery.{self.name}] needs {name!r} (or {name}_file, or {env})")
        return value.get_secret_value()

    @abstractmethod
    def call(self, chunk: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Send one request for ``chunk``; one result per message, in order.

        Acquire ``self.request_limiter`` for ``len(chunk)`` before sending. Raise
        TransportError when the request did not go or its outcome is unknown,
        BackendConfigError when the provider refuses our credentials.
        """

    def close(self) -> None:
        """Stop the request threads."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[DeliveryResult]:
        """Check, split into requests, send them (in parallel) and settle the results."""
        results: list[DeliveryResult | None] = [None] * len(messages)
        sendable: list[int] = []
        for index, message in enumerate(messages):
            problem = header_problem(message)
            if problem:
                results[index] = DeliveryResult(message.delivery_id, "failed", error=problem)
            else:
                sendable.append(index)
        chunks = list(self._chunks(messages, sendable))
        outcomes = self._run([[messages[i] for i in chunk] for chunk in chunks])
        self._settle(messages, chunks, outcomes, results)
        return [r for r in results if r is not None]

    def _chunks(
        self, messages: Sequence[OutboundMessage], indexes: list[int]
    ) -> Iterator[list[int]]:
        chunk: list[int] = []
        size = 0
        for index in indexes:
            weight = _weight(messages[index]) if self.max_request_bytes else 0
            full = len(chunk) >= self.messages_per_request
            if chunk and (full or size + weight > self.max_request_bytes > 0):
                yield chunk
                chunk, size = [], 0
            chunk.append(index)
            size += weight
        if chunk:
            yield chunk

    def _run(
        self, chunks: list[list[OutboundMessage]]
    ) -> list[list[DeliveryResult] | DeliveryError]:
        # After the first failed request of a batch the rest are not tried: the next
        # ones would meet the same 429, outage or refused key, each after a timeout.
        tripped: list[DeliveryError] = []

        def attempt(chunk: list[OutboundMessage]) -> list[DeliveryResult] | DeliveryError:
            if tripped:
                first = tripped[0]
                return type(first)(
                    f"{self.name}: not sent after an earlier failure: {first}",
                    backend=self.name,
                    retry_after=first.retry_after,
                )
            outcome = self._attempt(chunk)
            if isinstance(outcome, DeliveryError):
                tripped.append(outcome)
            return outcome

        if len(chunks) <= 1 or self.options.connections == 1:
            return [attempt(chunk) for chunk in chunks]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.options.connections, thread_name_prefix=f"syndicate-{self.name}"
                )
            pool = self._pool
        return list(pool.map(attempt, chunks))

    def _attempt(self, chunk: list[OutboundMessage]) -> list[DeliveryResult] | DeliveryError:
        try:
            results = self.call(chunk)
        except DeliveryError as err:
            return err
        except Exception as err:
            # A bug in a provider module must not throw away the results of the other
            # requests of the batch: this request alone is deferred, outcome unknown.
            log.exception("%s: unexpected error in a request", self.name)
            text = f"{self.name}: unexpected {type(err).__name__}: {err}; {UNKNOWN_OUTCOME}"
            return TransportError(text, backend=self.name)
        if len(results) != len(chunk):
            raise AssertionError(f"{self.name}: {len(results)} results for {len(chunk)}")
        return results

    def _settle(
        self,
        messages: Sequence[OutboundMessage],
        chunks: list[list[int]],
        outcomes: list[list[DeliveryResult] | DeliveryError],
        results: list[DeliveryResult | None],
    ) -> None:
        errors = [o for o in outcomes if isinstance(o, DeliveryError)]
        answered = len(errors) < len(outcomes)
        refused = next((e for e in errors if isinstance(e, BackendConfigError)), None)
        # Raise only when nothing of the batch went: raising drops the results, and a
        # message that was accepted must be reported so it is not sent again.
        if refused is not None and not answered:
            raise refused
        if errors and not answered and all(r is None for r in results):
            raise errors[0]
        for chunk, outcome in zip(chunks, outcomes, strict=True):
            if isinstance(outcome, DeliveryError):
                log.warning("%s: %d deferred: %s", self.name, len(chunk), outcome)
                got = deferred([messages[i] for i in chunk], str(outcome), outcome.retry_after)
            else:
                got = outcome
            for index, result in zip(chunk, got, strict=True):
                results[index] = result


def _weight(message: OutboundMessage) -> int:
    # What a message adds to a JSON request, roughly: its bodies plus room for the other
    # fields. Escaping can add a little; providers keep a margin under their cap.
    return len(message.html.encode()) + len(message.text.encode()) + 4096
