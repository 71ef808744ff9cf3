"""Story signatures and clustering rules, pure: no store, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syndicate.config import SourceConfig
from syndicate.ingest.content import clean_entry
from syndicate.ingest.signature import (
    MIN_FEATURES,
    features,
    lead_text,
    signature,
    similarity,
    words,
)
from syndicate.ingest.stories import Newcomer, StoryRules, assign_stories, one_per_story
from syndicate.models import Entry
from syndicate.store.stories import StoryPeer
from tests.digest.factory import article

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

QUAKE = (
    "Magnitude 6.8 earthquake strikes off northern Chile coast",
    "<p>A magnitude 6.8 earthquake struck off the coast of northern Chile on Tuesday, "
    "shaking buildings in Antofagasta and Iquique, the national seismology centre said. "
    "There were no immediate reports of casualties or major damage, and the navy said the "
    "quake did not meet the conditions to generate a tsunami along the Chilean coast.</p>",
)
# Another outlet: the headline rewritten, the lead reworded, the facts the same.
QUAKE_REWRITTEN = (
    "Strong quake shakes Antofagasta, no tsunami threat",
    "<p>Buildings swayed in Antofagasta and Iquique on Tuesday when a 6.8-magnitude "
    "earthquake hit offshore in northern Chile. Chile's seismology centre reported the "
    "tremor; authorities said no deaths or serious damage had been reported so far, and "
    "the navy ruled out a tsunami.</p>",
)
# The same kind of event elsewhere: not the same story.
OTHER_QUAKE = (
    "Magnitude 6.1 earthquake hits southern Peru, damaging homes",
    "<p>A magnitude 6.1 earthquake hit southern Peru on Friday, damaging dozens of adobe "
    "homes in the Arequipa region and cutting power to several villages, civil defence "
    "officials said. Two people were injured by falling debris, and the authorities said "
    "there was no tsunami risk for the Peruvian coast.</p>",
)


def sig(story: tuple[str, str]) -> frozenset[int]:
    return features(signature(story[0], "", story[1]))


def test_a_reworded_copy_is_similar_and_another_story_is_not() -> None:
    rules = StoryRules()
    assert similarity(sig(QUAKE), sig(QUAKE_REWRITTEN)) >= rules.similarity
    assert similarity(sig(QUAKE), sig(OTHER_QUAKE)) < rules.similarity
    assert similarity(sig(QUAKE_REWRITTEN), sig(OTHER_QUAKE)) < rules.similarity


def test_a_near_copy_is_almost_identical() -> None:
    wire_edit = (QUAKE[0], QUAKE[1].replace("on Tuesday", "on Tuesday morning"))
    assert similarity(sig(QUAKE), sig(wire_edit)) > 0.9
    assert similarity(sig(QUAKE), sig(QUAKE)) == 1.0


def test_the_signature_reads_title_and_lead_only() -> None:
    lead = " ".join(f"lead{n}" for n in range(60))
    one = ("Title", f"<p>{lead} " + " ".join(f"one{n}" for n in range(200)) + "</p>")
    other = ("Title", f"<p>{lead} " + " ".join(f"other{n}" for n in range(200)) + "</p>")
    assert sig(one) == sig(other)  # only the first 60 words count
    assert lead_text("Title", "The dek", "").endswith("The dek")  # no body: the dek
    assert "dek" not in lead_text("Title", "The dek", "<p>Body words</p>")


def test_words_fold_case_drop_stop_words_and_plurals() -> None:
    assert words("The Ports said THE strikes cost £4.75bn and 1,200 jobs") == [
        "port",
        "strike",
        "cost",
        "4.75bn",
        "1,200",
        "job",
    ]


def test_too_little_text_has_no_signature() -> None:
    assert signature("Short", "", "<p>Three words here</p>") == b""
    assert features(b"") == frozenset()
    too_few = " ".join(f"word{n}" for n in range(MIN_FEATURES - 1))
    assert signature(too_few, "", "<p>the and of a</p>") == b""
    enough = " ".join(f"word{n}" for n in range(MIN_FEATURES))
    assert len(features(signature(enough, "", ""))) == MIN_FEATURES


def test_cleaning_gives_every_entry_its_story_keys() -> None:
    entry = Entry(
        key="a",
        url="https://news.example/quake?utm_source=rss",
        title=QUAKE[0],
        body_html=QUAKE[1],
        published_at=T0,
        canonical_url="/quake/",
    )
    clean = clean_entry(
        entry, source="wire", authority="x.example,2026", site_url="https://x.example"
    )
    assert clean.url == "https://news.example/quake?utm_source=rss"  # public link as given
    assert (
        clean.url_key
        and clean.url_key
        == clean_entry(
            Entry(
                key="b",
                url="https://www.news.example/quake",
                title="t",
                body_html="",
                published_at=T0,
            ),
            source="desk",
            authority="x.example,2026",
            site_url="https://x.example",
        ).url_key
    )
    assert features(clean.signature) == sig(QUAKE)


# --- assigning clusters ------------------------------------------------------------------


def peer(n: str, source: str, text: tuple[str, str], hours: float = 0, **kw: str) -> StoryPeer:
    return StoryPeer(
        id=n,
        source=source,
        story=kw.get("story", ""),
        url_key=kw.get("url_key", ""),
        signature=signature(text[0], "", text[1]),
        published_at=T0 + timedelta(hours=hours),
    )


def newcomer(
    n: str, source: str, story: tuple[str, str], hours: float = 0, url_key: str = ""
) -> Newcomer:
    return Newcomer(
        n, source, url_key, signature(story[0], "", story[1]), T0 + timedelta(hours=hours)
    )


def test_a_copy_from_another_source_joins_the_first_articles_cluster() -> None:
    placed = assign_stories(
        [
            newcomer("wire-1", "wire", QUAKE_REWRITTEN, 2),
            newcomer("wire-2", "wire", OTHER_QUAKE, 2),
        ],
        [peer("desk-1", "desk", QUAKE)],
        StoryRules(),
    )
    assert placed == {"wire-1": "desk-1", "wire-2": "wire-2"}


def test_a_later_article_joins_an_existing_cluster_and_never_renames_it() -> None:
    stored = [
        peer("desk-1", "desk", QUAKE),
        peer("wire-1", "wire", QUAKE_REWRITTEN, 1, story="desk-1"),
    ]
    placed = assign_stories(
        [newcomer("agency-1", "agency", QUAKE_REWRITTEN, 3)], stored, StoryRules()
    )
    assert placed == {"agency-1": "desk-1"}


def test_the_same_link_joins_whatever_the_text_and_the_time() -> None:
    placed = assign_stories(
        [newcomer("wire-9", "wire", OTHER_QUAKE, 24 * 30, url_key="k1")],
        [peer("desk-1", "desk", QUAKE, url_key="k1")],
        StoryRules(),
    )
    assert placed == {"wire-9": "desk-1"}


def test_copies_published_further_apart_than_the_window_are_two_stories() -> None:
    rules = StoryRules(window=timedelta(days=3))
    stored = [peer("desk-1", "desk", QUAKE)]
    assert assign_stories([newcomer("w", "wire", QUAKE_REWRITTEN, 71)], stored, rules) == {
        "w": "desk-1"
    }
    assert assign_stories([newcomer("w", "wire", QUAKE_REWRITTEN, 73)], stored, rules) == {"w": "w"}


def test_one_sources_articles_are_never_clustered_together() -> None:
    placed = assign_stories(
        [newcomer("desk-2", "desk", QUAKE, 1, url_key="k1")],
        [peer("desk-1", "desk", QUAKE, url_key="k1")],
        StoryRules(),
    )
    assert placed == {"desk-2": "desk-2"}


def test_within_one_run_the_oldest_names_the_cluster() -> None:
    placed = assign_stories(
        [
            newcomer("wire-1", "wire", QUAKE_REWRITTEN, 5),
            newcomer("desk-1", "desk", QUAKE, 1),
            newcomer("agency-1", "agency", QUAKE, 9),
        ],
        [],
        StoryRules(),
    )
    assert placed == {"desk-1": "desk-1", "wire-1": "desk-1", "agency-1": "desk-1"}


def test_the_most_similar_match_wins() -> None:
    near_copy = (QUAKE[0], QUAKE[1].replace("Tuesday", "Tuesday morning"))
    stored = [peer("desk-1", "desk", QUAKE_REWRITTEN), peer("agency-1", "agency", QUAKE, 1)]
    placed = assign_stories([newcomer("wire-1", "wire", near_copy, 2)], stored, StoryRules())
    assert placed == {"wire-1": "agency-1"}


def test_a_stricter_threshold_keeps_a_rewrite_apart() -> None:
    placed = assign_stories(
        [newcomer("wire-1", "wire", QUAKE_REWRITTEN, 1)],
        [peer("desk-1", "desk", QUAKE)],
        StoryRules(similarity=0.9),
    )
    assert placed == {"wire-1": "wire-1"}


# --- one member per cluster in an edition -------------------------------------------------


def test_an_edition_keeps_the_publishers_own_member_else_the_newest() -> None:
    own = article(1, source="desk")
    wire_copy = article(2, source="wire", story=own.id)
    agency_copy = article(3, source="agency", story=own.id)
    alone = article(4, source="wire")
    assert one_per_story([agency_copy, wire_copy, own, alone], {"desk"}) == [own, alone]
    # Without the publisher's own member, the newest.
    assert one_per_story([wire_copy, agency_copy, alone], {"desk"}) == [agency_copy, alone]
    # Order is kept; articles without a cluster are all kept.
    singles = [article(n) for n in range(5, 9)]
    assert one_per_story(singles, {"desk"}) == singles


def test_only_a_folder_is_the_publishers_own_unless_said_otherwise() -> None:
    assert SourceConfig(name="a", kind="folder").is_own
    assert not SourceConfig(name="b", kind="feed").is_own
    assert not SourceConfig(name="c", kind="page").is_own
    assert SourceConfig(name="d", kind="feed", own=True).is_own
    assert not SourceConfig(name="e", kind="folder", own=False).is_own
