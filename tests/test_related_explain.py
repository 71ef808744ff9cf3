"""``related.explain``: explaining many articles makes the pool's rows once."""

from __future__ import annotations

from syndicate.related import RelatedIndex
from syndicate.related.explain import explain_all
from syndicate.related.terms import Candidate
from tests.digest.factory import article


class Counting(RelatedIndex):
    made = 0

    @property
    def articles(self) -> list[Candidate]:
        Counting.made += 1
        return super().articles


def test_explaining_every_article_makes_the_pool_rows_once() -> None:
    pool = [article(n, title=f"Harbour strike day {n}") for n in range(6)]
    index = Counting(pool)
    Counting.made = 0
    explained = list(explain_all(index, pool, 2))
    assert [e.article.id for e in explained] == [a.id for a in pool]
    assert Counting.made == 1
