"""Indexes for reads that grew with history (bench/history.py).

The household statement names each movement by looking up the domain row of
its entry (``charges.entry_id``, ``payments.entry_id`` and the like): without
an index each lookup read the whole table, which grows by a row per household
and month. ``account_balance`` now reads only an account's subtree, by
``accounts.parent_id``, instead of the book's whole chart.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: (table, column) pairs, each indexed as ``ix_<table>_<column>``.
INDEXES = [
    ("accounts", "parent_id"),
    ("charges", "entry_id"),
    ("payments", "entry_id"),
    ("credits", "entry_id"),
    ("payment_returns", "entry_id"),
    ("credit_applications", "entry_id"),
    ("credit_applications", "undone_entry_id"),
    ("refunds", "entry_id"),
    ("write_offs", "entry_id"),
]


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
