"""The district's whitelist of vetted vendors (白名单), schools' purchase agreements with
them, and vendor bills for delivered sessions.

Services bought from outside may come only from a vendor that is on the
district's whitelist and active on the service date, under an agreement of the
school for that programme, at no more than the agreed price and within the
agreement's cap. A bill is ``Dr 5003 / Cr 2202.V<id>``. A vendor never
receives a household's payment: households pay the school (see
:mod:`ledger.school.payments`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger import books

from .errors import Conflict, NotFound, RuleBroken
from .models import (
    AGREEMENT_UNITS,
    VENDOR_STATUSES,
    District,
    Programme,
    PurchaseAgreement,
    School,
    Vendor,
    VendorBill,
    VendorStatusChange,
)
from .uscc import uscc_problem

__all__ = [
    "create_agreement",
    "create_vendor",
    "record_bill",
    "set_vendor_status",
    "vendor_account",
    "vendor_status_on",
]

PAYABLE = "2202"
EXPENSE = "5003"


def vendor_account(vendor_id: int) -> str:
    return f"{PAYABLE}.V{vendor_id}"


def _check_text(value: str | None, field: str, what: str) -> str:
    if not value or not value.strip():
        raise RuleBroken(f"{field}_required", f"{what} is required", field=field)
    return value.strip()


def create_vendor(
    db: Session,
    district: District,
    *,
    name: str,
    uscc: str,
    qualification: str,
    services: str,
    approved_price: int,
    price_unit: str,
    valid_from: dt.date,
    valid_to: dt.date,
    actor: str,
) -> Vendor:
    """Put a vendor on the district's whitelist. Refused: an invalid unified social credit
    code (``invalid_uscc``), a code already listed (``vendor_exists``)."""
    name = _check_text(name, "name", "the vendor's name")
    code = (uscc or "").strip().upper()
    problem = uscc_problem(code)
    if problem is not None:
        raise RuleBroken(
            "invalid_uscc", f"{uscc!r} is not a unified social credit code: {problem}", field="uscc"
        )
    qualification = _check_text(qualification, "qualification", "the vendor's qualification")
    services = _check_text(services, "services", "the services offered")
    if price_unit not in AGREEMENT_UNITS:
        raise RuleBroken(
            "invalid_unit",
            f"price_unit must be one of {', '.join(AGREEMENT_UNITS)}",
            field="price_unit",
        )
    if approved_price <= 0:
        raise RuleBroken(
            "invalid_amount", "the approved price must be positive", field="approved_price"
        )
    if valid_to < valid_from:
        raise RuleBroken("invalid_dates", "valid_to is before valid_from", field="valid_to")
    exists = db.scalar(
        select(Vendor.id).where(Vendor.district_id == district.id, Vendor.uscc == code)
    )
    if exists is not None:
        raise Conflict("vendor_exists", f"vendor {exists} already has code {code}", field="uscc")
    vendor = Vendor(
        district_id=district.id,
        name=name,
        uscc=code,
        qualification=qualification,
        services=services,
        approved_price=approved_price,
        price_unit=price_unit,
        valid_from=valid_from,
        valid_to=valid_to,
        status="active",
        created_by=actor,
    )
    db.add(vendor)
    db.flush()
    return vendor


def set_vendor_status(
    db: Session, vendor: Vendor, *, status: str, effective: dt.date, reason: str, actor: str
) -> Vendor:
    """Suspend, reinstate or remove a vendor from a date on, with the reason kept.

    ``removed`` is final.
    """
    if status not in VENDOR_STATUSES:
        raise RuleBroken(
            "invalid_status", f"status must be one of {', '.join(VENDOR_STATUSES)}", field="status"
        )
    reason = _check_text(reason, "reason", "a reason")
    if vendor.status == "removed":
        raise Conflict("vendor_removed", f"vendor {vendor.name} was removed from the whitelist")
    db.add(
        VendorStatusChange(
            vendor_id=vendor.id,
            status=status,
            effective=effective,
            reason=reason,
            changed_by=actor,
        )
    )
    vendor.status = status
    db.flush()
    return vendor


def vendor_status_on(db: Session, vendor: Vendor, day: dt.date) -> str:
    """The vendor's status on a date: the last change effective on or before it."""
    last = db.scalar(
        select(VendorStatusChange.status)
        .where(VendorStatusChange.vendor_id == vendor.id, VendorStatusChange.effective <= day)
        .order_by(VendorStatusChange.effective.desc(), VendorStatusChange.id.desc())
        .limit(1)
    )
    return last or "active"


def _whitelisted(db: Session, school: School, vendor_id: int) -> Vendor:
    vendor = db.get(Vendor, vendor_id)
    if vendor is None or vendor.district_id != school.district_id:
        raise RuleBroken(
            "vendor_not_whitelisted",
            f"vendor {vendor_id} is not on the whitelist of the school's district",
            field="vendor",
        )
    return vendor


def _check_active(db: Session, vendor: Vendor, day: dt.date, field: str) -> None:
    if not (vendor.valid_from <= day <= vendor.valid_to):
        raise RuleBroken(
            "vendor_out_of_dates",
            f"{vendor.name} is whitelisted {vendor.valid_from}..{vendor.valid_to}, not on {day}",
            field=field,
        )
    status = vendor_status_on(db, vendor, day)
    if status != "active":
        raise RuleBroken(f"vendor_{status}", f"{vendor.name} is {status} on {day}", field="vendor")


def create_agreement(
    db: Session,
    school: School,
    *,
    vendor_id: int,
    programme: Programme,
    reference: str,
    unit: str,
    price: int,
    start: dt.date,
    end: dt.date,
    actor: str,
    cap: int | None = None,
) -> PurchaseAgreement:
    """A school's purchase agreement with a whitelisted vendor for one programme.

    Refused: a vendor off the district's whitelist, not active on the start date
    or outside its dates; a price above the whitelist's approved price
    (``price_above_whitelist``) or in another unit.
    """
    vendor = _whitelisted(db, school, vendor_id)
    if programme.school_id != school.id:
        raise NotFound(f"no programme {programme.id} at school {school.code}")
    reference = _check_text(reference, "reference", "the agreement's reference")
    if end < start:
        raise RuleBroken("invalid_dates", "end is before start", field="end")
    _check_active(db, vendor, start, "start")
    if end > vendor.valid_to:
        raise RuleBroken(
            "vendor_out_of_dates",
            f"{vendor.name} is whitelisted until {vendor.valid_to}, not until {end}",
            field="end",
        )
    if unit != vendor.price_unit:
        raise RuleBroken(
            "invalid_unit",
            f"{vendor.name} is approved per {vendor.price_unit}, not per {unit}",
            field="unit",
        )
    if price <= 0:
        raise RuleBroken("invalid_amount", "the price must be positive", field="price")
    if price > vendor.approved_price:
        raise RuleBroken(
            "price_above_whitelist",
            f"{price} fen is above the whitelist's approved price {vendor.approved_price} fen",
            field="price",
        )
    if cap is not None and cap <= 0:
        raise RuleBroken("invalid_amount", "the cap must be positive", field="cap")
    agreement = PurchaseAgreement(
        school_id=school.id,
        vendor_id=vendor.id,
        programme_id=programme.id,
        reference=reference,
        unit=unit,
        price=price,
        start=start,
        end=end,
        cap=cap,
        created_by=actor,
    )
    db.add(agreement)
    db.flush()
    return agreement


def _ensure_vendor_account(db: Session, school: School, vendor: Vendor) -> str:
    code = vendor_account(vendor.id)
    book = db.get(books.Book, school.book_id)
    exists = db.scalar(
        select(books.Account.id).where(books.Account.book_id == book.id, books.Account.code == code)
    )
    if exists is None:
        books.create_account(
            db,
            book,
            code=code,
            name=f"应付-{vendor.name}",
            type="liability",
            parent=PAYABLE,
            owner_ref=f"vendor:{vendor.id}",
        )
    return code


def record_bill(
    db: Session,
    school: School,
    *,
    vendor_id: int,
    agreement_id: int | None,
    reference: str,
    service_date: dt.date,
    quantity: int,
    unit_price: int,
    actor: str,
) -> VendorBill:
    """Accept a vendor's bill for delivered sessions: quantity × agreed price, posted
    ``Dr 5003 / Cr 2202.V<id>``.

    Refused, with nothing written: a vendor off the whitelist
    (``vendor_not_whitelisted``), suspended or removed on the service date
    (``vendor_suspended``, ``vendor_removed``), outside its whitelisted dates
    (``vendor_out_of_dates``), without an agreement covering the date
    (``no_agreement``), above the agreed price (``above_agreed_price``) or past
    the agreement's cap (``agreement_cap_exceeded``); the same vendor reference
    twice (``bill_exists``).
    """
    vendor = _whitelisted(db, school, vendor_id)
    reference = _check_text(reference, "reference", "the vendor's bill reference")
    if quantity <= 0:
        raise RuleBroken("invalid_quantity", "quantity must be positive", field="quantity")
    if unit_price <= 0:
        raise RuleBroken("invalid_amount", "the unit price must be positive", field="unit_price")
    _check_active(db, vendor, service_date, "service_date")
    q = select(PurchaseAgreement).where(
        PurchaseAgreement.school_id == school.id,
        PurchaseAgreement.vendor_id == vendor.id,
        PurchaseAgreement.start <= service_date,
        PurchaseAgreement.end >= service_date,
    )
    if agreement_id is not None:
        q = q.where(PurchaseAgreement.id == agreement_id)
    agreement = db.scalar(q.order_by(PurchaseAgreement.id))
    if agreement is None:
        raise RuleBroken(
            "no_agreement",
            f"the school has no agreement with {vendor.name} covering {service_date}",
            field="agreement",
        )
    if unit_price > agreement.price:
        raise RuleBroken(
            "above_agreed_price",
            f"{unit_price} fen per {agreement.unit} is above the agreed {agreement.price} fen",
            field="unit_price",
        )
    amount = quantity * unit_price
    if agreement.cap is not None:
        billed = db.scalar(
            select(func.coalesce(func.sum(VendorBill.amount), 0)).where(
                VendorBill.agreement_id == agreement.id
            )
        )
        if billed + amount > agreement.cap:
            raise RuleBroken(
                "agreement_cap_exceeded",
                f"{billed} fen billed so far plus {amount} fen is above the agreement's cap of "
                f"{agreement.cap} fen",
                field="quantity",
            )
    if db.scalar(
        select(VendorBill.id).where(
            VendorBill.vendor_id == vendor.id, VendorBill.reference == reference
        )
    ):
        raise Conflict(
            "bill_exists",
            f"{vendor.name}'s bill {reference} is already recorded",
            field="reference",
        )
    payable = _ensure_vendor_account(db, school, vendor)
    posted = books.post_entry(
        db,
        school.book_id,
        books.EntryDraft(
            effective_date=service_date,
            memo=f"购买服务 vendor bill {reference} {vendor.name}: {quantity} × {unit_price} fen",
            kind="vendor_bill",
            source_ref=f"agreement:{agreement.id}",
            idempotency_key=f"vendor_bill:{vendor.id}:{reference}",
            postings=[books.PostingDraft(EXPENSE, amount), books.PostingDraft(payable, -amount)],
        ),
        actor=actor,
    )
    bill = VendorBill(
        school_id=school.id,
        vendor_id=vendor.id,
        agreement_id=agreement.id,
        reference=reference,
        service_date=service_date,
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        entry_id=posted.entry_id,
        recorded_by=actor,
    )
    db.add(bill)
    db.flush()
    return bill
