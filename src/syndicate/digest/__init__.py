"""Stage 3, digests: compose editions, render them once, personalise per recipient.

Takes a channel's articles, its ``[digest]`` settings and the templates; gives stored
editions (stories, "More from" picks, subject and preheader per segment, rendered
parts) that delivery sends unchanged.

* :mod:`.slots` — which schedule slot a time falls in, and the next one;
* :mod:`.cadence` — a channel's schedules (its own and round-ups), what is due now;
* :mod:`.compose` — an edition's stories and related items (reads only);
* :mod:`.render` — Jinja → MJML → HTML with inlined CSS, and the text part;
* :mod:`.deks` — a "More from" pick's one-line dek (first sentence, ~140 characters);
* :mod:`.thumbs` — how a pick's image covers the template's fixed thumbnail box;
* :mod:`.personalise` — per-recipient values without recompiling;
* :mod:`.build` — compose, render, then save.

The preview (files for a sample recipient) is :mod:`syndicate.delivery.preview`: it
builds the message bytes, which is delivery's job.

Composing pulls in numpy and scipy, which a process that only sends stored
editions, or only needs a slot, should not pay for: names load on first use.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.digest.build import BuiltEdition, build_edition
    from syndicate.digest.cadence import (
        Due,
        Schedule,
        cadences_offered,
        decide,
        edition_cadence,
        schedules_for,
    )
    from syndicate.digest.compose import Edition, compose_edition
    from syndicate.digest.errors import DigestError, RenderLimitError, TemplateError
    from syndicate.digest.links import PlaceholderLinks, Recipient, SubscriberLinks
    from syndicate.digest.personalise import Personalised, Personaliser
    from syndicate.digest.render import RenderedEdition, render_edition
    from syndicate.digest.slots import next_slot, slot_for
    from syndicate.digest.templates import DigestTemplates

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "BuiltEdition": "build",
        "DigestError": "errors",
        "DigestTemplates": "templates",
        "Due": "cadence",
        "Edition": "compose",
        "Personalised": "personalise",
        "Personaliser": "personalise",
        "PlaceholderLinks": "links",
        "Recipient": "links",
        "RenderLimitError": "errors",
        "RenderedEdition": "render",
        "Schedule": "cadence",
        "SubscriberLinks": "links",
        "TemplateError": "errors",
        "build_edition": "build",
        "cadences_offered": "cadence",
        "compose_edition": "compose",
        "decide": "cadence",
        "edition_cadence": "cadence",
        "next_slot": "slots",
        "render_edition": "render",
        "schedules_for": "cadence",
        "slot_for": "slots",
    },
)

__all__ = [
    "BuiltEdition",
    "DigestError",
    "DigestTemplates",
    "Due",
    "Edition",
    "Personalised",
    "Personaliser",
    "PlaceholderLinks",
    "Recipient",
    "RenderLimitError",
    "RenderedEdition",
    "Schedule",
    "SubscriberLinks",
    "TemplateError",
    "build_edition",
    "cadences_offered",
    "compose_edition",
    "decide",
    "edition_cadence",
    "next_slot",
    "render_edition",
    "schedules_for",
    "slot_for",
]
