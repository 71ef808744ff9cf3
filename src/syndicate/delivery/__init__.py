"""Stage 4, delivery: editions and recipients in, messages sent exactly once out.

Takes stored editions and the outbox; gives message bytes (MIME, list headers, DKIM)
handed to a backend, and each result recorded in the same transaction as its claim.
Backends never import the store: :mod:`.dispatch` and the guards it runs are the only
parts that do.

* :mod:`.dispatch` — enqueue an edition's rows; claim, send and record them;
* :mod:`.compose` and :mod:`.message` — the bytes of each message;
* :mod:`.tokens` — HMAC-signed link tokens bound to subscriber and purpose;
* :mod:`.dkim`, :mod:`.notice` — signing; the confirmation mail;
* :mod:`.warmup`, :mod:`.breakers`, :mod:`.guards` — daily caps for a new domain,
  pausing a recipient group a provider distrusts, what the outbox holds back;
* :mod:`.preview` — an edition's files for a sample recipient, nothing stored;
* :mod:`.base` — the backend protocol, pacing; :mod:`.registry` — backends by name;
* :mod:`.api` — the base of request/answer API backends; :mod:`.httpapi` — of those
  called over HTTP directly;
* one module per backend: :mod:`.file`, :mod:`.smtp` (with :mod:`.smtp_sessions` and
  :mod:`.smtp_replies`), :mod:`.postmark`, :mod:`.sendgrid`, :mod:`.mailgun`, :mod:`.ses`.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.delivery.base import Backend, BackendOptions
    from syndicate.delivery.compose import EditionMessages
    from syndicate.delivery.dispatch import (
        AudienceCounts,
        Dispatcher,
        DispatchReport,
        audience_counts,
        enqueue_counted,
        enqueue_edition,
    )
    from syndicate.delivery.guards import Waiting, deliveries_waiting, sender_guards
    from syndicate.delivery.registry import backend_names, make_backend
    from syndicate.delivery.tokens import BadToken, Purpose, TokenClaims, TokenSigner

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "AudienceCounts": "dispatch",
        "Backend": "base",
        "BackendOptions": "base",
        "BadToken": "tokens",
        "DispatchReport": "dispatch",
        "Dispatcher": "dispatch",
        "EditionMessages": "compose",
        "Purpose": "tokens",
        "TokenClaims": "tokens",
        "TokenSigner": "tokens",
        "Waiting": "guards",
        "audience_counts": "dispatch",
        "deliveries_waiting": "guards",
        "sender_guards": "guards",
        "backend_names": "registry",
        "enqueue_counted": "dispatch",
        "enqueue_edition": "dispatch",
        "make_backend": "registry",
    },
)

__all__ = [
    "AudienceCounts",
    "Backend",
    "BackendOptions",
    "BadToken",
    "DispatchReport",
    "Dispatcher",
    "EditionMessages",
    "Purpose",
    "TokenClaims",
    "TokenSigner",
    "Waiting",
    "audience_counts",
    "backend_names",
    "deliveries_waiting",
    "enqueue_counted",
    "enqueue_edition",
    "make_backend",
    "sender_guards",
]
