"""Settling invoices (returns, refunds, credit applications, cancellations, write-offs),
year closings and subsidy claims; charges gain a generation so a cancelled invoice can be
reissued.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 08:00:58.818132
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _rebuild_charges(change: Callable[[BatchOperations], None]) -> None:
    """Alter ``charges``; on SQLite that rebuilds the table (copy, drop, rename).

    Dropping the old table would orphan the credits that point at it, and
    SQLite counts such rows as violations even once the rebuilt table carries
    the same ids, so the credits are set aside during the rebuild and put
    back after it.
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE credits_during_0004 AS SELECT * FROM credits")
        op.execute("DELETE FROM credits")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        change(batch_op)
    if sqlite:
        op.execute("INSERT INTO credits SELECT * FROM credits_during_0004")
        op.execute("DROP TABLE credits_during_0004")


def _charges_up(batch_op: BatchOperations) -> None:
    # A reissued invoice bills the same enrolment and period again, one generation up.
    batch_op.add_column(sa.Column("generation", sa.Integer(), server_default="0", nullable=False))
    batch_op.add_column(
        sa.Column(
            "replaces_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        )
    )
    batch_op.drop_constraint(batch_op.f("uq_charges_enrolment_id_period_start"), type_="unique")
    batch_op.create_unique_constraint(
        batch_op.f("uq_charges_enrolment_id_period_start_generation"),
        ["enrolment_id", "period_start", "generation"],
    )
    batch_op.create_unique_constraint(batch_op.f("uq_charges_replaces_id"), ["replaces_id"])
    batch_op.create_foreign_key(
        batch_op.f("fk_charges_replaces_id_charges"), "charges", ["replaces_id"], ["id"]
    )
    batch_op.create_check_constraint("generation_not_negative", "generation >= 0")


def _charges_down(batch_op: BatchOperations) -> None:
    # Refused by the database (as it should be) once an invoice has been reissued.
    batch_op.drop_constraint(batch_op.f("ck_charges_generation_not_negative"), type_="check")
    batch_op.drop_constraint(batch_op.f("fk_charges_replaces_id_charges"), type_="foreignkey")
    batch_op.drop_constraint(batch_op.f("uq_charges_replaces_id"), type_="unique")
    batch_op.drop_constraint(
        batch_op.f("uq_charges_enrolment_id_period_start_generation"), type_="unique"
    )
    batch_op.create_unique_constraint(
        batch_op.f("uq_charges_enrolment_id_period_start"), ["enrolment_id", "period_start"]
    )
    batch_op.drop_column("replaces_id")
    batch_op.drop_column("generation")


def upgrade() -> None:
    _rebuild_charges(_charges_up)
    op.create_table(
        "subsidy_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("funder_account", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("claimed_on", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('submitted', 'partially_received', 'received')",
            name=op.f("ck_subsidy_claims_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_subsidy_claims_amount_positive")),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_subsidy_claims_end_not_before_start")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_subsidy_claims_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_claims")),
        sa.UniqueConstraint("school_id", "number", name=op.f("uq_subsidy_claims_school_id_number")),
    )
    op.create_table(
        "write_offs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("limit_amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("written_off_on", sa.Date(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'rejected')",
            name=op.f("ck_write_offs_status_known"),
        ),
        sa.CheckConstraint(
            "amount > 0 AND amount <= limit_amount", name=op.f("ck_write_offs_amount_within_limit")
        ),
        sa.CheckConstraint(
            "decided_by IS NULL OR decided_by <> requested_by", name=op.f("ck_write_offs_four_eyes")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_write_offs_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_write_offs_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_offs")),
    )
    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.create_index("ix_write_offs_household_id", ["household_id"], unique=False)

    op.create_table(
        "year_closings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("year_start", sa.Date(), nullable=False),
        sa.Column("year_end", sa.Date(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("net_result", sa.BigInteger(), nullable=False),
        sa.Column("closed_by", sa.String(length=255), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "year_end >= year_start", name=op.f("ck_year_closings_end_not_before_start")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_year_closings_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_year_closings")),
        sa.UniqueConstraint(
            "school_id", "year_end", name=op.f("uq_year_closings_school_id_year_end")
        ),
    )
    op.create_table(
        "payment_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("returned_by", sa.String(length=255), nullable=False),
        sa.Column("returned_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_returns_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_returns")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_returns_payment_id")),
    )
    op.create_table(
        "subsidy_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_subsidy_receipts_amount_positive")),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["subsidy_claims.id"],
            name=op.f("fk_subsidy_receipts_claim_id_subsidy_claims"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_receipts")),
    )
    with op.batch_alter_table("subsidy_receipts", schema=None) as batch_op:
        batch_op.create_index("ix_subsidy_receipts_claim_id", ["claim_id"], unique=False)

    op.create_table(
        "credit_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=10), nullable=False),
        sa.Column("source_invoice_id", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("undone_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("applied_by", sa.String(length=255), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('apply', 'reissue', 'return')",
            name=op.f("ck_credit_applications_reason_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_applications_amount_positive")),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_credit_applications_household_id_households"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_credit_applications_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_credit_applications_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_credit_applications_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["source_invoice_id"],
            ["invoices.id"],
            name=op.f("fk_credit_applications_source_invoice_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_applications")),
    )
    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.create_index("ix_credit_applications_household_id", ["household_id"], unique=False)
        batch_op.create_index("ix_credit_applications_invoice_id", ["invoice_id"], unique=False)

    op.create_table(
        "invoice_cancellations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("cancelled_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("cancelled_by", sa.String(length=255), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(), nullable=False),
        sa.Column("reissued_as_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_cancellations_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["reissued_as_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_cancellations_reissued_as_id_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_cancellations")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_invoice_cancellations_invoice_id")),
        sa.UniqueConstraint("reissued_as_id", name=op.f("uq_invoice_cancellations_reissued_as_id")),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("paid_from", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("paid_from = '1002'", name=op.f("ck_refunds_school_bank_only")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_refunds_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_refunds_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_refunds_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index("ix_refunds_household_id", ["household_id"], unique=False)

    op.create_table(
        "write_off_lines",
        sa.Column("write_off_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_write_off_lines_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_write_off_lines_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["write_off_id"],
            ["write_offs.id"],
            name=op.f("fk_write_off_lines_write_off_id_write_offs"),
        ),
        sa.PrimaryKeyConstraint("write_off_id", "invoice_id", name=op.f("pk_write_off_lines")),
    )
    op.create_table(
        "subsidy_claim_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column(
            "charge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_subsidy_claim_lines_amount_positive")),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_subsidy_claim_lines_charge_id_charges")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["subsidy_claims.id"],
            name=op.f("fk_subsidy_claim_lines_claim_id_subsidy_claims"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_subsidy_claim_lines_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsidy_claim_lines")),
        sa.UniqueConstraint("charge_id", name=op.f("uq_subsidy_claim_lines_charge_id")),
    )
    with op.batch_alter_table("subsidy_claim_lines", schema=None) as batch_op:
        batch_op.create_index("ix_subsidy_claim_lines_claim_id", ["claim_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subsidy_claim_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_subsidy_claim_lines_claim_id")

    op.drop_table("subsidy_claim_lines")
    op.drop_table("write_off_lines")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_household_id")

    op.drop_table("refunds")
    op.drop_table("invoice_cancellations")
    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_applications_invoice_id")
        batch_op.drop_index("ix_credit_applications_household_id")

    op.drop_table("credit_applications")
    with op.batch_alter_table("subsidy_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_subsidy_receipts_claim_id")

    op.drop_table("subsidy_receipts")
    op.drop_table("payment_returns")
    op.drop_table("year_closings")
    with op.batch_alter_table("write_offs", schema=None) as batch_op:
        batch_op.drop_index("ix_write_offs_household_id")

    op.drop_table("write_offs")
    op.drop_table("subsidy_claims")
    _rebuild_charges(_charges_down)
