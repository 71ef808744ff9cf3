"""Email digests: compose editions, render them once, personalise per recipient.

* :mod:`~syndicate.digest.schedule` — which slot a time falls in;
* :mod:`~syndicate.digest.compose` — an edition's stories and related items (reads only);
* :mod:`~syndicate.digest.render` — Jinja → MJML → HTML with inlined CSS, and the text part;
* :mod:`~syndicate.digest.personalise` — per-recipient values without recompiling;
* :mod:`~syndicate.digest.build` — compose, render, then save;
* :mod:`~syndicate.digest.preview` — files for a sample recipient, nothing stored.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from syndicate.digest.build import BuiltEdition, build_edition
    from syndicate.digest.compose import Edition, compose_edition
    from syndicate.digest.errors import DigestError, RenderLimitError, TemplateError
    from syndicate.digest.links import PlaceholderLinks, Recipient, SubscriberLinks
    from syndicate.digest.personalise import Personalised, Personaliser
    from syndicate.digest.render import RenderedEdition, render_edition
    from syndicate.digest.schedule import next_slot, slot_for
    from syndicate.digest.templates import DigestTemplates

# Names are loaded on first use (PEP 562): composing pulls in numpy and scikit-learn,
# which a process that only sends stored editions, or only needs a slot, should not pay.
_WHERE = {
    "BuiltEdition": "build",
    "build_edition": "build",
    "Edition": "compose",
    "compose_edition": "compose",
    "DigestError": "errors",
    "RenderLimitError": "errors",
    "TemplateError": "errors",
    "PlaceholderLinks": "links",
    "Recipient": "links",
    "SubscriberLinks": "links",
    "Personalised": "personalise",
    "Personaliser": "personalise",
    "RenderedEdition": "render",
    "render_edition": "render",
    "next_slot": "schedule",
    "slot_for": "schedule",
    "DigestTemplates": "templates",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"syndicate.digest.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'syndicate.digest' has no attribute {name!r}")


__all__ = [
    "BuiltEdition",
    "DigestError",
    "DigestTemplates",
    "Edition",
    "Personalised",
    "Personaliser",
    "PlaceholderLinks",
    "Recipient",
    "RenderLimitError",
    "RenderedEdition",
    "SubscriberLinks",
    "TemplateError",
    "build_edition",
    "compose_edition",
    "next_slot",
    "render_edition",
    "slot_for",
]
