"""Stage 3, "More from": which archive articles to offer beside the new ones.

Takes candidate articles (the pool) and the stories of an edition or a feed item;
gives ranked picks. Pure functions over :class:`~syndicate.models.Article` plus the
index they rank with; used by the digest's "More from <Publication>" block and by
feed items' embedded related links.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.related.ranking import (
        RelatedIndex,
        RelatedWeights,
        Signals,
        pick_related,
        pick_related_per_story,
    )

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "RelatedIndex": "ranking",
        "RelatedWeights": "ranking",
        "Signals": "ranking",
        "pick_related": "ranking",
        "pick_related_per_story": "ranking",
    },
)

__all__ = [
    "RelatedIndex",
    "RelatedWeights",
    "Signals",
    "pick_related",
    "pick_related_per_story",
]
