"""Books, accounts, entries, postings, periods, users, tokens and the audit log.

Entries and postings are append-only: triggers refuse UPDATE and DELETE on
both databases. On PostgreSQL a statement trigger also refuses postings whose
entry does not balance.

Revision ID: 0001
Revises:
Create Date: 2026-12-01 07:08:32.449808
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "books",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("last_number >= 0", name=op.f("ck_books_last_number_not_negative")),
        sa.CheckConstraint("length(code) > 0", name=op.f("ck_books_code_not_empty")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_books")),
        sa.UniqueConstraint("code", name=op.f("uq_books_code")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'finance', 'auditor', 'parent', 'teacher')",
            name=op.f("ck_users_role_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("book_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("owner_ref", sa.String(length=100), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "type IN ('asset', 'liability', 'net_assets', 'revenue', 'expense')",
            name=op.f("ck_accounts_type_known"),
        ),
        sa.CheckConstraint("length(code) > 0", name=op.f("ck_accounts_code_not_empty")),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_accounts_book_id_books")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["accounts.id"], name=op.f("fk_accounts_parent_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("book_id", "code", name=op.f("uq_accounts_book_id_code")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_at", ["at"], unique=False)

    op.create_table(
        "book_access",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name=op.f("fk_book_access_book_id_books")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_book_access_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "book_id", name=op.f("pk_book_access")),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("book_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("memo", sa.Text(), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=True),
        sa.Column("posted_by", sa.String(length=255), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "reverses_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "kind IN ('charge', 'credit', 'payment', 'refund', 'subsidy_receipt', 'stipend', 'labour_fee', 'vendor_bill', 'payout', 'write_off', 'adjustment', 'reversal', 'closing')",
            name=op.f("ck_entries_kind_known"),
        ),
        sa.CheckConstraint(
            "length(hash) = 64 AND length(prev_hash) = 64", name=op.f("ck_entries_hashes_sha256")
        ),
        sa.CheckConstraint("length(memo) > 0", name=op.f("ck_entries_memo_not_empty")),
        sa.CheckConstraint("number > 0", name=op.f("ck_entries_number_positive")),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_entries_book_id_books")),
        sa.ForeignKeyConstraint(
            ["reverses_id"], ["entries.id"], name=op.f("fk_entries_reverses_id_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
        sa.UniqueConstraint(
            "book_id", "idempotency_key", name=op.f("uq_entries_book_id_idempotency_key")
        ),
        sa.UniqueConstraint("book_id", "number", name=op.f("uq_entries_book_id_number")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_entries_reverses_id")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entries_book_id_effective_date", ["book_id", "effective_date"], unique=False
        )

    op.create_table(
        "periods",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("book_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=255), nullable=True),
        sa.CheckConstraint('"end" >= start', name=op.f("ck_periods_end_not_before_start")),
        sa.ForeignKeyConstraint(["book_id"], ["books.id"], name=op.f("fk_periods_book_id_books")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_periods")),
    )
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.create_index("ix_periods_book_id_start", ["book_id", "start"], unique=False)

    op.create_table(
        "balances",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("debit", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("credit >= 0", name=op.f("ck_balances_credit_not_negative")),
        sa.CheckConstraint("debit >= 0", name=op.f("ck_balances_debit_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_balances_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_balances")),
    )
    op.create_table(
        "postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("book_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_postings_amount_not_zero")),
        sa.CheckConstraint("length(currency) = 3", name=op.f("ck_postings_currency_code")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_postings_account_id_effective_date", ["account_id", "effective_date"], unique=False
        )
        batch_op.create_index("ix_postings_entry_id", ["entry_id"], unique=False)

    _create_guards()


IMMUTABLE = ("entries", "postings")


def _create_guards() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in IMMUTABLE:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'posted {table} are immutable; "
                    "correct with a reversal'); END"
                )
        op.execute(
            "CREATE TRIGGER postings_references BEFORE INSERT ON postings "
            "WHEN NOT EXISTS (SELECT 1 FROM entries e WHERE e.id = NEW.entry_id "
            "AND e.book_id = NEW.book_id AND e.effective_date = NEW.effective_date) "
            "OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = NEW.account_id "
            "AND a.book_id = NEW.book_id) "
            "BEGIN SELECT RAISE(ABORT, 'posting names an entry or account outside its book'); END"
        )
        op.execute(
            "CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts "
            "BEGIN SELECT RAISE(ABORT, 'accounts are closed, never deleted'); END"
        )
        return
    op.execute(
        """
        CREATE FUNCTION kehou_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'posted % are immutable; correct with a reversal', TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END $$
        """
    )
    for table in IMMUTABLE:
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION kehou_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION kehou_refuse_change()"
        )
    # Every INSERT statement writes whole entries (the engine inserts all postings of
    # an entry in one statement), so each statement's rows must balance per entry.
    # References are checked set-wise here rather than by foreign keys: row-by-row
    # RI checks cost more than the insert itself in a bulk COPY, and their cached
    # plans can go quadratic on a table that was small when they were planned.
    # EXECUTE plans the joins afresh for every statement.
    op.execute(
        """
        CREATE FUNCTION kehou_check_postings() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE bad bigint;
        BEGIN
            SELECT entry_id INTO bad FROM new_postings
             GROUP BY entry_id, currency HAVING sum(amount) <> 0 LIMIT 1;
            IF bad IS NOT NULL THEN
                RAISE EXCEPTION 'entry % does not balance', bad USING ERRCODE = 'check_violation';
            END IF;
            -- Joined on the primary key alone, so the plan probes it and nothing else.
            EXECUTE 'SELECT n.entry_id FROM new_postings n LEFT JOIN entries e '
                    'ON e.id = n.entry_id WHERE e.id IS NULL OR e.book_id <> n.book_id '
                    'OR e.effective_date <> n.effective_date LIMIT 1'
               INTO bad;
            IF bad IS NOT NULL THEN
                RAISE EXCEPTION 'posting names entry % outside its book or date', bad
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            EXECUTE 'SELECT n.account_id FROM new_postings n LEFT JOIN accounts a '
                    'ON a.id = n.account_id WHERE a.id IS NULL OR a.book_id <> n.book_id '
                    'LIMIT 1'
               INTO bad;
            IF bad IS NOT NULL THEN
                RAISE EXCEPTION 'posting names account % outside its book', bad
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER postings_checked AFTER INSERT ON postings "
        "REFERENCING NEW TABLE AS new_postings "
        "FOR EACH STATEMENT EXECUTE FUNCTION kehou_check_postings()"
    )
    op.execute(
        "CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts "
        "FOR EACH ROW EXECUTE FUNCTION kehou_refuse_change()"
    )


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in IMMUTABLE:
            for action in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        op.execute("DROP TRIGGER IF EXISTS postings_references")
        op.execute("DROP TRIGGER IF EXISTS accounts_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS accounts_no_delete ON accounts")
    op.execute("DROP TRIGGER IF EXISTS postings_checked ON postings")
    for table in IMMUTABLE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS kehou_check_postings()")
    op.execute("DROP FUNCTION IF EXISTS kehou_refuse_change()")


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_entry_id")
        batch_op.drop_index("ix_postings_account_id_effective_date")

    op.drop_table("postings")
    op.drop_table("balances")
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.drop_index("ix_periods_book_id_start")

    op.drop_table("periods")
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_book_id_effective_date")

    op.drop_table("entries")
    op.drop_table("book_access")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_at")

    op.drop_table("audit_log")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("accounts")
    op.drop_table("users")
    op.drop_table("books")
