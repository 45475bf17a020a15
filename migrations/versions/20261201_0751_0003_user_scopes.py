"""Who may act where: finance users to schools or districts, parents to households.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 07:51:51.481418
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_districts",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_user_districts_district_id_districts")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_districts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "district_id", name=op.f("pk_user_districts")),
    )
    op.create_table(
        "user_households",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_user_households_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_households_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "household_id", name=op.f("pk_user_households")),
    )
    op.create_table(
        "user_schools",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_user_schools_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_schools_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "school_id", name=op.f("pk_user_schools")),
    )


def downgrade() -> None:
    op.drop_table("user_schools")
    op.drop_table("user_households")
    op.drop_table("user_districts")
