"""A small demo book: the chart of accounts of DESIGN.md and a few weeks of entries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ledger import books as engine
from ledger.books import EntryDraft, PostingDraft

from .audit import record
from .auth import create_user
from .models import BookAccess

#: (code, name, type, parent)
CHART = [
    ("1002", "Bank: after-school service account 银行存款-课后服务专户", "asset", None),
    ("1122", "Receivable: households 应收-家庭", "asset", None),
    ("1122.H0001", "Receivable: household Wang 王家", "asset", "1122"),
    ("1122.H0002", "Receivable: household Li 李家", "asset", "1122"),
    ("1123", "Receivable: government subsidy 应收-财政补贴", "asset", None),
    ("1124", "Receivable: school contribution 应收-学校分担", "asset", None),
    ("2202", "Payable: vendors 应付-供应商", "liability", None),
    ("2211", "Payable: staff stipends and labour fees 应付-补助及劳务费", "liability", None),
    ("2221", "Payable: income tax withheld 应交个人所得税", "liability", None),
    ("2241", "Household credits 家庭预收及待退", "liability", None),
    ("2299", "Unidentified receipts 待查明收款", "liability", None),
    ("3001", "Net assets: after-school fund 净资产-课后服务基金", "net_assets", None),
    ("4001", "Revenue: after-school service fees 课后服务收入", "revenue", None),
    ("4901", "Contra-revenue: waivers absorbed 减免", "revenue", None),
    ("5001", "Expense: teacher stipends 教师补助", "expense", None),
    ("5002", "Expense: labour fees 劳务费", "expense", None),
    ("5003", "Expense: purchased services 购买服务", "expense", None),
    ("5901", "Expense: small balances written off 小额核销", "expense", None),
]


def _draft(day: dt.date, memo: str, kind: str, key: str, *lines: tuple[str, int]) -> EntryDraft:
    return EntryDraft(
        effective_date=day,
        memo=memo,
        kind=kind,
        idempotency_key=key,
        postings=[PostingDraft(code, fen) for code, fen in lines],
    )


def load_demo(db: Session, *, actor: str) -> list[tuple[str, str, str]]:
    """Create demo users, the DEMO book and a few entries. Returns (email, role, token)."""
    tokens = []
    users = {}
    for email, role in [
        ("admin@demo.kehou", "admin"),
        ("finance@demo.kehou", "finance"),
        ("auditor@demo.kehou", "auditor"),
    ]:
        user, token = create_user(db, email, role)
        users[role] = user
        tokens.append((email, role, token))
    finance = users["finance"]
    book = engine.create_book(
        db, code="DEMO", name="示范小学 Demo Primary School", created_by=f"user:{finance.id}"
    )
    db.add(BookAccess(user_id=finance.id, book_id=book.id))
    for code, name, type_, parent in CHART:
        engine.create_account(db, book, code=code, name=name, type=type_, parent=parent)
    engine.create_period(db, book, start=dt.date(2026, 9, 1), end=dt.date(2026, 9, 30))
    engine.create_period(db, book, start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))
    who = finance.email
    entries = [
        # Basic care for September: cost 300.00 per student; government 150, school 50, parent 100.
        _draft(
            dt.date(2026, 9, 1),
            "9月基本托管 王小明 / September basic care, Wang",
            "charge",
            "demo-1",
            ("1123", 15000),
            ("1124", 5000),
            ("1122.H0001", 10000),
            ("4001", -30000),
        ),
        # Li is a hardship student: the parent share is waived and the government covers it.
        _draft(
            dt.date(2026, 9, 1),
            "9月基本托管 李小红（困难减免）/ September, Li (hardship waiver)",
            "charge",
            "demo-2",
            ("1123", 25000),
            ("1124", 5000),
            ("4001", -30000),
        ),
        _draft(
            dt.date(2026, 9, 10),
            "王家缴费 / Payment, Wang household",
            "payment",
            "demo-3",
            ("1002", 10000),
            ("1122.H0001", -10000),
        ),
        _draft(
            dt.date(2026, 9, 25),
            "区财政补贴到账 / District subsidy received",
            "subsidy_receipt",
            "demo-4",
            ("1002", 40000),
            ("1123", -40000),
        ),
        _draft(
            dt.date(2026, 9, 30),
            "9月教师补助 / September teacher stipends",
            "stipend",
            "demo-5",
            ("5001", 36000),
            ("2211", -36000),
        ),
    ]
    for draft in entries:
        engine.post_entry(db, book.id, draft, actor=who)
    engine.close_period(db, book, engine.list_periods(db, book)[0].id, actor=who)
    record(db, "demo.load", "book:DEMO", actor=actor)
    return tokens
