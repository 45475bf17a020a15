"""The after-school domain: districts, schools, terms, programmes, fee standards,
cost-sharing policies, applications, enrolments, waivers, billing, invoices, payments, credits.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 07:51:02.545331
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "districts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("funder_name", sa.String(length=200), nullable=False),
        sa.Column("end_of_work", sa.Time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("code", name=op.f("uq_districts_code")),
    )
    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_households_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
    )
    op.create_table(
        "schools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("book_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=True),
        sa.Column("bank_account", sa.String(length=64), nullable=True),
        sa.Column("complaints_phone", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_schools_book_id_books")),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_schools_district_id_districts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schools")),
        sa.UniqueConstraint("book_id", name=op.f("uq_schools_book_id")),
        sa.UniqueConstraint("code", name=op.f("uq_schools_code")),
    )
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_classes_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classes")),
        sa.UniqueConstraint("school_id", "name", name=op.f("uq_classes_school_id_name")),
    )
    op.create_table(
        "document_counters",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_document_counters_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("school_id", "kind", "year", name=op.f("pk_document_counters")),
    )
    op.create_table(
        "fee_standards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("authority", sa.String(length=200), nullable=False),
        sa.Column("document_no", sa.String(length=100), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('basic_care', 'enrichment', 'extended_care')",
            name=op.f("ck_fee_standards_kind_known"),
        ),
        sa.CheckConstraint(
            "unit IN ('term', 'month', 'day', 'lesson')", name=op.f("ck_fee_standards_unit_known")
        ),
        sa.CheckConstraint(
            "(district_id IS NULL) <> (school_id IS NULL)",
            name=op.f("ck_fee_standards_district_or_school"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_fee_standards_amount_not_negative")),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_fee_standards_valid_range")),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_fee_standards_district_id_districts")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_fee_standards_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_standards")),
    )
    op.create_table(
        "guardians",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("relation", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_guardians_household_id_households")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guardians")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("received_into", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("returned_entry_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("received_into = '1002'", name=op.f("ck_payments_school_bank_only")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_payments_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_payments_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_table(
        "terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("billing_months", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.CheckConstraint('"end" >= start', name=op.f("ck_terms_end_not_before_start")),
        sa.CheckConstraint(
            "billing_months BETWEEN 1 AND 12", name=op.f("ck_terms_billing_months_range")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_terms_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms")),
    )
    op.create_table(
        "billing_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("period_kind", sa.String(length=10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("run_by", sa.String(length=255), nullable=False),
        sa.Column("run_at", sa.DateTime(), nullable=False),
        sa.Column("charges_posted", sa.Integer(), nullable=False),
        sa.Column("invoices_issued", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "period_kind IN ('term', 'month')", name=op.f("ck_billing_runs_period_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_billing_runs_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["term_id"], ["terms.id"], name=op.f("fk_billing_runs_term_id_terms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_runs")),
    )
    op.create_table(
        "calendar_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "kind IN ('holiday', 'makeup')", name=op.f("ck_calendar_days_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["term_id"], ["terms.id"], name=op.f("fk_calendar_days_term_id_terms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_days")),
        sa.UniqueConstraint("term_id", "day", name=op.f("uq_calendar_days_term_id_day")),
    )
    op.create_table(
        "cost_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=False),
        sa.Column("government_mode", sa.String(length=10), nullable=False),
        sa.Column("government_value", sa.BigInteger(), nullable=False),
        sa.Column("school_mode", sa.String(length=10), nullable=False),
        sa.Column("school_value", sa.BigInteger(), nullable=False),
        sa.Column("waiver_cover", sa.String(length=12), nullable=False),
        sa.Column("refund_rule", sa.String(length=12), nullable=False),
        sa.Column("fee_standard_id", sa.Integer(), nullable=False),
        sa.Column("notice_ref", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "government_mode IN ('amount', 'percent')",
            name=op.f("ck_cost_policies_government_mode_known"),
        ),
        sa.CheckConstraint(
            "refund_rule IN ('daily', 'half_month')",
            name=op.f("ck_cost_policies_refund_rule_known"),
        ),
        sa.CheckConstraint(
            "school_mode IN ('amount', 'percent')", name=op.f("ck_cost_policies_school_mode_known")
        ),
        sa.CheckConstraint(
            "unit IN ('term', 'month', 'day', 'lesson')", name=op.f("ck_cost_policies_unit_known")
        ),
        sa.CheckConstraint(
            "waiver_cover IN ('government', 'school', 'absorbed')",
            name=op.f("ck_cost_policies_waiver_cover_known"),
        ),
        sa.CheckConstraint(
            "(district_id IS NULL) <> (school_id IS NULL)",
            name=op.f("ck_cost_policies_district_or_school"),
        ),
        sa.CheckConstraint(
            "effective_to >= effective_from", name=op.f("ck_cost_policies_effective_range")
        ),
        sa.CheckConstraint(
            "government_value >= 0 AND school_value >= 0",
            name=op.f("ck_cost_policies_shares_not_negative"),
        ),
        sa.CheckConstraint("unit_cost > 0", name=op.f("ck_cost_policies_unit_cost_positive")),
        sa.ForeignKeyConstraint(
            ["district_id"], ["districts.id"], name=op.f("fk_cost_policies_district_id_districts")
        ),
        sa.ForeignKeyConstraint(
            ["fee_standard_id"],
            ["fee_standards.id"],
            name=op.f("fk_cost_policies_fee_standard_id_fee_standards"),
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_cost_policies_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_policies")),
    )
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("lessons_per_session", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('basic_care', 'enrichment', 'extended_care')",
            name=op.f("ck_programmes_kind_known"),
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_programmes_capacity_positive")),
        sa.CheckConstraint("end_time > start_time", name=op.f("ck_programmes_ends_after_start")),
        sa.CheckConstraint("lessons_per_session > 0", name=op.f("ck_programmes_lessons_positive")),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_programmes_school_id_schools")
        ),
        sa.ForeignKeyConstraint(
            ["term_id"], ["terms.id"], name=op.f("fk_programmes_term_id_terms")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
    )
    op.create_table(
        "students",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("class_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("student_no", sa.String(length=40), nullable=True),
        sa.Column("left_behind", sa.Boolean(), nullable=False),
        sa.Column("migrant", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["class_id"], ["classes.id"], name=op.f("fk_students_class_id_classes")
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_students_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_students_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_students")),
    )
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.create_index("ix_students_household_id", ["household_id"], unique=False)

    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("applied_by", sa.String(length=255), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.Column("written_ref", sa.String(length=200), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=255), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('applied', 'reviewed', 'approved', 'rejected', 'waitlisted', 'cancelled')",
            name=op.f("ck_applications_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_applications_programme_id_programmes"),
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_applications_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_applications_programme_id_status", ["programme_id", "status"], unique=False
        )

    op.create_table(
        "hardship_statuses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("evidence_ref", sa.String(length=200), nullable=False),
        sa.Column("verified_by", sa.String(length=255), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_hardship_statuses_valid_range")),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_hardship_statuses_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hardship_statuses")),
    )
    with op.batch_alter_table("hardship_statuses", schema=None) as batch_op:
        batch_op.create_index("ix_hardship_statuses_student_id", ["student_id"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("billing_run_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "status IN ('issued', 'partially_paid', 'paid', 'overdue', 'cancelled', 'refunded')",
            name=op.f("ck_invoices_status_known"),
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_invoices_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["billing_run_id"],
            ["billing_runs.id"],
            name=op.f("fk_invoices_billing_run_id_billing_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_invoices_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_invoices_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("school_id", "number", name=op.f("uq_invoices_school_id_number")),
        sa.UniqueConstraint(
            "school_id", "year", "seq", name=op.f("uq_invoices_school_id_year_seq")
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_household_id", ["household_id"], unique=False)

    op.create_table(
        "waivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence_ref", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'rejected')", name=op.f("ck_waivers_status_known")
        ),
        sa.CheckConstraint(
            "decided_by IS NULL OR decided_by <> requested_by", name=op.f("ck_waivers_four_eyes")
        ),
        sa.CheckConstraint(
            "percent > 0 AND percent <= 10000", name=op.f("ck_waivers_percent_range")
        ),
        sa.CheckConstraint("valid_to >= valid_from", name=op.f("ck_waivers_valid_range")),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_waivers_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waivers")),
    )
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.create_index("ix_waivers_student_id", ["student_id"], unique=False)

    op.create_table(
        "enrolments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=255), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_enrolments_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programmes.id"], name=op.f("fk_enrolments_programme_id_programmes")
        ),
        sa.ForeignKeyConstraint(
            ["student_id"], ["students.id"], name=op.f("fk_enrolments_student_id_students")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrolments")),
        sa.UniqueConstraint("application_id", name=op.f("uq_enrolments_application_id")),
        sa.UniqueConstraint(
            "student_id", "programme_id", name=op.f("uq_enrolments_student_id_programme_id")
        ),
    )
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.create_index("ix_enrolments_programme_id", ["programme_id"], unique=False)

    op.create_table(
        "payment_allocations",
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_allocations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_allocations_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_allocations_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("payment_id", "invoice_id", name=op.f("pk_payment_allocations")),
    )
    op.create_table(
        "absences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("reported_by", sa.String(length=255), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint('"end" >= start', name=op.f("ck_absences_end_not_before_start")),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name=op.f("fk_absences_enrolment_id_enrolments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absences")),
    )
    op.create_table(
        "charges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("billing_run_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("fee_standard_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("unit_cost", sa.BigInteger(), nullable=False),
        sa.Column("units_num", sa.Integer(), nullable=False),
        sa.Column("units_den", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("enrolled_days", sa.Integer(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("government", sa.BigInteger(), nullable=False),
        sa.Column("school", sa.BigInteger(), nullable=False),
        sa.Column("parent", sa.BigInteger(), nullable=False),
        sa.Column("waiver", sa.BigInteger(), nullable=False),
        sa.Column("waiver_cover", sa.String(length=12), nullable=False),
        sa.Column("household", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "cost = government + school + parent AND cost >= 0 AND government >= 0 AND school >= 0 AND parent >= 0",
            name=op.f("ck_charges_shares_sum_to_cost"),
        ),
        sa.CheckConstraint(
            "waiver >= 0 AND waiver <= parent AND household = parent - waiver",
            name=op.f("ck_charges_waiver_within_parent_share"),
        ),
        sa.ForeignKeyConstraint(
            ["billing_run_id"],
            ["billing_runs.id"],
            name=op.f("fk_charges_billing_run_id_billing_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["enrolments.id"], name=op.f("fk_charges_enrolment_id_enrolments")
        ),
        sa.ForeignKeyConstraint(
            ["fee_standard_id"],
            ["fee_standards.id"],
            name=op.f("fk_charges_fee_standard_id_fee_standards"),
        ),
        sa.ForeignKeyConstraint(
            ["household_id"], ["households.id"], name=op.f("fk_charges_household_id_households")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_charges_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["cost_policies.id"], name=op.f("fk_charges_policy_id_cost_policies")
        ),
        sa.ForeignKeyConstraint(
            ["school_id"], ["schools.id"], name=op.f("fk_charges_school_id_schools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
        sa.UniqueConstraint(
            "enrolment_id", "period_start", name=op.f("uq_charges_enrolment_id_period_start")
        ),
    )
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index("ix_charges_billing_run_id", ["billing_run_id"], unique=False)
        batch_op.create_index("ix_charges_household_id", ["household_id"], unique=False)

    op.create_table(
        "credits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "charge_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("government", sa.BigInteger(), nullable=False),
        sa.Column("school", sa.BigInteger(), nullable=False),
        sa.Column("household", sa.BigInteger(), nullable=False),
        sa.Column("absorbed", sa.BigInteger(), nullable=False),
        sa.Column("to_invoice", sa.BigInteger(), nullable=False),
        sa.Column("to_credit_account", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('withdrawal', 'absence', 'waiver', 'cancel')",
            name=op.f("ck_credits_reason_known"),
        ),
        sa.CheckConstraint(
            "total > 0 AND total = government + school + household + absorbed AND household = to_invoice + to_credit_account AND government >= 0 AND school >= 0 AND household >= 0 AND absorbed >= 0 AND to_invoice >= 0 AND to_credit_account >= 0",
            name=op.f("ck_credits_parts_sum_to_total"),
        ),
        sa.ForeignKeyConstraint(
            ["charge_id"], ["charges.id"], name=op.f("fk_credits_charge_id_charges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credits")),
    )
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.create_index("ix_credits_charge_id", ["charge_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("credits", schema=None) as batch_op:
        batch_op.drop_index("ix_credits_charge_id")

    op.drop_table("credits")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_household_id")
        batch_op.drop_index("ix_charges_billing_run_id")

    op.drop_table("charges")
    op.drop_table("absences")
    op.drop_table("payment_allocations")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrolments_programme_id")

    op.drop_table("enrolments")
    with op.batch_alter_table("waivers", schema=None) as batch_op:
        batch_op.drop_index("ix_waivers_student_id")

    op.drop_table("waivers")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_household_id")

    op.drop_table("invoices")
    with op.batch_alter_table("hardship_statuses", schema=None) as batch_op:
        batch_op.drop_index("ix_hardship_statuses_student_id")

    op.drop_table("hardship_statuses")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index("ix_applications_programme_id_status")

    op.drop_table("applications")
    with op.batch_alter_table("students", schema=None) as batch_op:
        batch_op.drop_index("ix_students_household_id")

    op.drop_table("students")
    op.drop_table("programmes")
    op.drop_table("cost_policies")
    op.drop_table("calendar_days")
    op.drop_table("billing_runs")
    op.drop_table("terms")
    op.drop_table("payments")
    op.drop_table("guardians")
    op.drop_table("fee_standards")
    op.drop_table("document_counters")
    op.drop_table("classes")
    op.drop_table("schools")
    op.drop_table("households")
    op.drop_table("districts")
