"""The articles' change log (incremental feed builds) and stored picks by target.

``article_changes`` is filled by triggers on ``articles``: every insert, update and
delete, whoever makes it. ``feed_pick_targets`` is the reverse of ``feed_item_picks``
(which items link to an article), filled here from the stored picks;
``feed_pick_changes`` logs the items whose picks were chosen.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_COLUMNS = (
    "article_id, old_present, old_published_at, old_section, old_source, old_tags, old_authors"
)
_OLD = "OLD.id, {true}, OLD.published_at, OLD.section, OLD.source, OLD.tags, OLD.authors"
_NEW = "NEW.id, {false}, NULL, NULL, NULL, NULL, NULL"

_SQLITE = [
    f"""CREATE TRIGGER article_changes_insert AFTER INSERT ON articles BEGIN
        INSERT INTO article_changes ({_COLUMNS}) VALUES ({_NEW.format(false=0)});
    END""",
    # An id that changes is the old article gone and a new one come.
    f"""CREATE TRIGGER article_changes_update AFTER UPDATE ON articles BEGIN
        INSERT INTO article_changes ({_COLUMNS}) VALUES ({_OLD.format(true=1)});
        INSERT INTO article_changes ({_COLUMNS})
            SELECT {_NEW.format(false=0)} WHERE NEW.id <> OLD.id;
    END""",
    f"""CREATE TRIGGER article_changes_delete AFTER DELETE ON articles BEGIN
        INSERT INTO article_changes ({_COLUMNS}) VALUES ({_OLD.format(true=1)});
    END""",
]

_POSTGRES_FUNCTION = f"""
CREATE FUNCTION syndicate_article_changes() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO article_changes ({_COLUMNS}) VALUES ({_OLD.format(true="true")});
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.id <> OLD.id) THEN
        INSERT INTO article_changes ({_COLUMNS}) VALUES ({_NEW.format(false="false")});
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql"""


def upgrade() -> None:
    op.create_table(
        "article_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.Column("old_present", sa.Boolean(), nullable=False),
        sa.Column("old_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("old_section", sa.String(200), nullable=True),
        sa.Column("old_source", sa.String(64), nullable=True),
        sa.Column("old_tags", sa.JSON(), nullable=True),
        sa.Column("old_authors", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_article_changes"),
    )
    op.create_table(
        "feed_pick_targets",
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("target_id", sa.String(512), nullable=False),
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("channel", "target_id", "article_id", name="pk_feed_pick_targets"),
    )
    op.create_table(
        "feed_pick_changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("article_id", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_feed_pick_changes"),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        for name, event in zip(
            ("article_changes_insert", "article_changes_update", "article_changes_delete"),
            ("INSERT", "UPDATE", "DELETE"),
            strict=True,
        ):
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON articles "
                "FOR EACH ROW EXECUTE FUNCTION syndicate_article_changes()"
            )
    else:
        for statement in _SQLITE:
            op.execute(statement)
    _fill_pick_targets(bind)


def _fill_pick_targets(bind: sa.Connection) -> None:
    """The reverse of the picks stored so far."""
    picks = sa.table(
        "feed_item_picks", sa.column("channel"), sa.column("article_id"), sa.column("pick_ids")
    )
    targets = sa.table(
        "feed_pick_targets", sa.column("channel"), sa.column("target_id"), sa.column("article_id")
    )
    rows = [
        {"channel": row.channel, "target_id": target, "article_id": row.article_id}
        for row in bind.execute(sa.select(picks.c.channel, picks.c.article_id, picks.c.pick_ids))
        for target in dict.fromkeys(
            json.loads(row.pick_ids) if isinstance(row.pick_ids, str) else row.pick_ids or ()
        )
    ]
    for start in range(0, len(rows), 2_000):
        bind.execute(sa.insert(targets), rows[start : start + 2_000])


def downgrade() -> None:
    for name in ("article_changes_insert", "article_changes_update", "article_changes_delete"):
        op.execute(
            f"DROP TRIGGER IF EXISTS {name} ON articles"
            if op.get_bind().dialect.name == "postgresql"
            else f"DROP TRIGGER IF EXISTS {name}"
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS syndicate_article_changes()")
    op.drop_table("feed_pick_changes")
    op.drop_table("feed_pick_targets")
    op.drop_table("article_changes")
