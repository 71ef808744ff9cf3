"""A random Message-ID salt per edition, so Message-IDs stay unique across databases.

Existing editions each get their own random salt (one UPDATE per row): a shared default
would make every old edition of two installs collide again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("message_salt", sa.String(32), nullable=True))
    editions = sa.table("editions", sa.column("id", sa.Integer), sa.column("message_salt"))
    conn = op.get_bind()
    ids = conn.execute(sa.select(editions.c.id)).scalars().all()
    for edition_id in ids:
        conn.execute(
            editions.update()
            .where(editions.c.id == edition_id)
            .values(message_salt=secrets.token_hex(8))
        )
    with op.batch_alter_table("editions") as batch:
        batch.alter_column("message_salt", existing_type=sa.String(32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("message_salt")
