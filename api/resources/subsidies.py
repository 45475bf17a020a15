"""Government subsidy claims, receipts against them, and their reconciliation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.views import MethodView

from ledger.school import subsidies
from ledger.school.models import SubsidyReceipt

from .. import audit, replay
from ..auth import actor, roles
from ..database import session
from ..models import Role
from ..scope import school_in_scope
from ..settlement_schemas import (
    ClaimIn,
    ClaimOut,
    ReceiptIn,
    ReceiptOut,
    SchoolReconciliationOut,
)
from . import Blueprint
from .books import _idempotency_key

blp = Blueprint(
    "subsidies",
    __name__,
    url_prefix="/api/v1",
    description="Subsidy claims to the government, receipts, reconciliation",
)

STAFF_READ = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)


@blp.route("/schools/<school>/subsidy-claims")
class Claims(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(ClaimIn)
    @blp.response(201, ClaimOut)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Claim the government's share of the school's charges for a period (财政补贴申报).

        Every charge whose billing period starts in ``period_start``–``period_end``
        and that no claim lists yet becomes a line: the student and the
        government's share today. Nothing is posted (the receivable was posted
        by billing). Refused: ``nothing_to_claim``, ``invalid_period``.
        """
        s = school_in_scope(session(), school)
        claim = subsidies.create_claim(
            session(),
            s,
            period_start=data["period_start"],
            period_end=data["period_end"],
            claimed_on=data["claimed_on"] or dt.date.today(),
            actor=actor(),
        )
        view = subsidies.reconcile_claim(session(), claim)
        audit.commit(
            "subsidy_claim.create",
            f"school:{school}/claim:{claim.id}",
            {"number": claim.number, "amount": claim.amount},
        )
        return view


@blp.route("/schools/<school>/subsidy-claims/<int:claim_id>")
class OneClaim(MethodView):
    @roles(*STAFF_READ)
    @blp.response(200, ClaimOut)
    def get(self, school: str, claim_id: int) -> Any:
        """A claim reconciled: claimed, received, outstanding, and due today, per student.

        ``due`` is the government's share of the claimed charges today; the
        ``differences`` list the students whose share changed since the claim
        (a withdrawal, a waiver taken over by the government, a cancellation).
        """
        s = school_in_scope(session(), school)
        return subsidies.reconcile_claim(session(), subsidies.get_claim(session(), s, claim_id))


@blp.route("/schools/<school>/subsidy-claims/<int:claim_id>/receipts")
class Receipts(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(ReceiptIn)
    @blp.response(201, ReceiptOut)
    @blp.alt_response(200, schema=ReceiptOut, description="Replay of an earlier request")
    def post(self, data: dict[str, Any], school: str, claim_id: int) -> Any:
        """Record money from the government against a claim: ``Dr 1002 / Cr 1123.<district>``.

        Partial receipts are allowed; together never more than was claimed
        (``receipt_exceeds_claim``). Requires ``Idempotency-Key``: a retry with
        the same key and body answers 200 with the first receipt; with another
        body, 409 ``idempotency_key_reused``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        claim = subsidies.get_claim(session(), s, claim_id)
        entry_key = f"subsidy-receipt:{key}"
        replayed = replay.entry_exists(s.book_id, entry_key)
        receipt = subsidies.record_subsidy_receipt(
            session(),
            claim,
            amount=data["amount"],
            received_on=data["received_on"],
            reference=data["reference"],
            actor=actor(),
            idempotency_key=entry_key,
        )
        view = _receipt_view(receipt)
        if replayed:
            if receipt.claim_id != claim.id:
                from ledger.books.errors import IdempotencyConflict

                raise IdempotencyConflict(
                    "this Idempotency-Key recorded a receipt on another claim",
                    field="Idempotency-Key",
                )
            session().rollback()
            return view, 200
        audit.commit(
            "subsidy_receipt.record",
            f"school:{school}/claim:{claim.id}/receipt:{receipt.id}",
            {"key": key, "amount": receipt.amount},
        )
        return view


def _receipt_view(receipt: SubsidyReceipt) -> dict[str, Any]:
    return {
        "id": receipt.id,
        "claim_id": receipt.claim_id,
        "amount": receipt.amount,
        "received_on": receipt.received_on,
        "reference": receipt.reference,
        "entry_id": receipt.entry_id,
        "recorded_by": receipt.recorded_by,
    }


@blp.route("/schools/<school>/subsidy-reconciliation")
class Reconciliation(MethodView):
    @roles(*STAFF_READ)
    @blp.response(200, SchoolReconciliationOut)
    def get(self, school: str) -> Any:
        """Every claim of the school reconciled, the shares not claimed yet, and the books.

        ``books_balance`` is the funder's receivable in the school's book;
        ``unexplained`` is what charges, credits and receipts do not explain
        (zero when the books and the claims agree).
        """
        s = school_in_scope(session(), school)
        return subsidies.reconcile_school(session(), s)
