"""Indexes for what an invoice still asks for (``receivables.invoice_outstanding``).

Every payment, credit application and status refresh sums the invoice's
allocations (``payment_allocations.invoice_id``), the credit notes on its
charges (``charges.invoice_id``) and its write-offs (``write_off_lines.invoice_id``).
Without these indexes each sum read the whole table, so recording a payment
grew with the number of charges in the database (bench/term.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:45:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: (table, column) pairs, each indexed as ``ix_<table>_<column>``.
INDEXES = [
    ("charges", "invoice_id"),
    ("payment_allocations", "invoice_id"),
    ("write_off_lines", "invoice_id"),
]


def upgrade() -> None:
    for table, column in INDEXES:
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
