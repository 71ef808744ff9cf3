"""Email digests: compose editions, render them once, personalise per recipient.

* :mod:`~syndicate.digest.schedule` — which slot a time falls in;
* :mod:`~syndicate.digest.compose` — an edition's stories and related items (reads only);
* :mod:`~syndicate.digest.render` — Jinja → MJML → HTML with inlined CSS, and the text part;
* :mod:`~syndicate.digest.personalise` — per-recipient values without recompiling;
* :mod:`~syndicate.digest.build` — compose, render, then save;
* :mod:`~syndicate.digest.preview` — files for a sample recipient, nothing stored.
"""

from syndicate.digest.build import BuiltEdition, build_edition
from syndicate.digest.compose import Edition, compose_edition
from syndicate.digest.errors import DigestError, RenderLimitError, TemplateError
from syndicate.digest.links import PlaceholderLinks, Recipient, SubscriberLinks
from syndicate.digest.personalise import Personalised, Personaliser
from syndicate.digest.render import RenderedEdition, render_edition
from syndicate.digest.schedule import next_slot, slot_for
from syndicate.digest.templates import DigestTemplates

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
