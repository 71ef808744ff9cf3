"""Stage 3, "More from": which archive articles to offer beside the new ones.

Takes candidate articles (the pool) and the stories of an edition or a feed item;
gives ranked picks. Pure ranking over :class:`~syndicate.models.Article` (``ranking.py``,
``pool.py``, ``lexical.py``, ``terms.py``) plus the persistent index it ranks with: term
vectors computed once per article into ``related_terms`` (``sync.py``) and kept in
memory per process (``cache.py``); used by the digest's "More from <Publication>" block
and by feed items' embedded related links.
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.related.cache import related_index
    from syndicate.related.ranking import (
        RelatedIndex,
        RelatedWeights,
        Signals,
        pick_related,
        pick_related_per_story,
    )
    from syndicate.related.sync import sync_terms

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "RelatedIndex": "ranking",
        "RelatedWeights": "ranking",
        "Signals": "ranking",
        "pick_related": "ranking",
        "pick_related_per_story": "ranking",
        "related_index": "cache",
        "sync_terms": "sync",
    },
)

__all__ = [
    "RelatedIndex",
    "RelatedWeights",
    "Signals",
    "pick_related",
    "pick_related_per_story",
    "related_index",
    "sync_terms",
]
