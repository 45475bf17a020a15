"""A programme counts its places taken; an application is found by student and programme.

Approving an application counted every enrolment of the programme that was
not withdrawn (to respect capacity), and applying looked for an open
application of the student through the ``(programme_id, status)`` index, so
both read a whole programme: quadratic in school size (bench/term.py). Now
``programmes.places_taken`` is taken by one conditional UPDATE
(``… SET places_taken = places_taken + 1 WHERE places_taken < capacity``), which
also keeps two clerks from both taking the last place, and given back by a
withdrawal; it starts as the count of enrolments not withdrawn.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


CHECK = "ck_programmes_places_taken_not_negative"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN keeps the table (a batch copy would be needed for a separate
        # ADD CONSTRAINT, which SQLite lacks); the check goes with the column.
        op.execute(
            "ALTER TABLE programmes ADD COLUMN places_taken INTEGER DEFAULT '0' NOT NULL"
            f" CONSTRAINT {CHECK} CHECK (places_taken >= 0)"
        )
    else:
        op.add_column(
            "programmes",
            sa.Column("places_taken", sa.Integer(), server_default="0", nullable=False),
        )
        op.create_check_constraint(op.f(CHECK), "programmes", "places_taken >= 0")
    op.execute(
        "UPDATE programmes SET places_taken = (SELECT count(*) FROM enrolments"
        " WHERE enrolments.programme_id = programmes.id AND enrolments.end_date IS NULL)"
    )
    op.create_index(
        "ix_applications_student_id_programme_id",
        "applications",
        ["student_id", "programme_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_applications_student_id_programme_id", table_name="applications")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE programmes DROP COLUMN places_taken")
    else:
        op.drop_constraint(op.f(CHECK), "programmes", type_="check")
        op.drop_column("programmes", "places_taken")
