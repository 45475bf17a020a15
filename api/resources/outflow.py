"""Money out: staff, service hours, pay rates, the monthly stipend and labour-fee run,
payout sheets, the tax-withheld report, the vendor whitelist, purchase agreements,
vendor bills, payout batches and the fund-use report.

Finance writes for their schools; auditors and admins read; parents have no
access; a teacher linked to their staff record reads their own hours and
payout sheets. Posts that move money take an ``Idempotency-Key``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g
from flask.views import MethodView
from sqlalchemy import select

from ledger.books.errors import NotFound
from ledger.school import fund_use, payouts, payroll, vendors
from ledger.school.models import (
    District,
    PayLine,
    PayoutBatch,
    Programme,
    PurchaseAgreement,
    ServiceHours,
    StaffMember,
    Term,
    Vendor,
    VendorBill,
)

from .. import audit, replay
from ..auth import actor, roles
from ..database import session
from ..models import Role, UserStaff
from ..outflow_schemas import (
    AgreementIn,
    AgreementOut,
    BatchIn,
    BatchOut,
    BillIn,
    BillOut,
    DecideIn,
    FundUseArgs,
    FundUseOut,
    HoursIn,
    HoursList,
    HoursOut,
    HoursQuery,
    MonthArgs,
    PayIn,
    PayoutSheetOut,
    PayRateIn,
    PayRateOut,
    PayRunIn,
    PayRunOut,
    StaffIn,
    StaffList,
    StaffOut,
    TaxReportOut,
    VendorIn,
    VendorList,
    VendorOut,
    VendorStatusIn,
)
from ..scope import district_in_scope, school_by_id_in_scope, school_in_scope
from . import Blueprint
from .books import _idempotency_key

blp = Blueprint(
    "outflow",
    __name__,
    url_prefix="/api/v1",
    description="Money out: staff, hours, stipends, labour fees, vendors, payouts, fund use",
)

READERS = (Role.FINANCE, Role.AUDITOR, Role.ADMIN)
REPLAYED = "Replay of an earlier request with the same Idempotency-Key"


def _month(text: str) -> tuple[int, int]:
    year, month = text.split("-")
    return int(year), int(month)


def _staff_view(staff: StaffMember, school_code: str) -> dict[str, Any]:
    full = g.user.role == Role.FINANCE
    return {
        "id": staff.id,
        "school": school_code,
        "name": staff.name,
        "kind": staff.kind,
        "id_type": staff.id_type,
        "id_number": staff.id_number if full else payroll.mask_id(staff.id_number),
    }


def _own_staff_ids() -> set[int]:
    return set(session().scalars(select(UserStaff.staff_id).where(UserStaff.user_id == g.user.id)))


def _staff_in_scope(staff_id: int) -> StaffMember:
    """A staff member the caller may read: finance of the school, auditors, admins, or the
    teacher linked to this very record; anyone else hears 404."""
    staff = session().get(StaffMember, staff_id)
    if staff is None:
        raise NotFound(f"no staff member {staff_id}")
    if g.user.role == Role.TEACHER:
        if staff.id not in _own_staff_ids():
            raise NotFound(f"no staff member {staff_id}")
        return staff
    try:
        school_by_id_in_scope(session(), staff.school_id)
    except NotFound:
        raise NotFound(f"no staff member {staff_id}") from None
    return staff


# --------------------------------------------------------------------------- staff and rates


@blp.route("/schools/<school>/staff")
class Staff(MethodView):
    @roles(*READERS)
    @blp.response(200, StaffList)
    def get(self, school: str) -> dict[str, Any]:
        """The school's staff; ID numbers are masked except to the school's finance staff."""
        s = school_in_scope(session(), school)
        rows = session().scalars(
            select(StaffMember).where(StaffMember.school_id == s.id).order_by(StaffMember.id)
        )
        return {"items": [_staff_view(m, s.code) for m in rows]}

    @roles(Role.FINANCE)
    @blp.arguments(StaffIn)
    @blp.response(201, StaffOut)
    def post(self, data: dict[str, Any], school: str) -> dict[str, Any]:
        """Add a teacher (stipends), external staff (labour fees; ID required) or volunteer."""
        s = school_in_scope(session(), school)
        staff = payroll.create_staff(session(), s, actor=actor(), **data)
        view = _staff_view(staff, s.code)
        audit.commit("staff.create", f"staff:{staff.id}")
        return view


@blp.route("/schools/<school>/pay-rates")
class PayRates(MethodView):
    @roles(*READERS)
    @blp.response(200, PayRateOut(many=True))
    def get(self, school: str) -> Any:
        from ledger.school.models import PayRate

        s = school_in_scope(session(), school)
        return list(
            session().scalars(select(PayRate).where(PayRate.school_id == s.id).order_by(PayRate.id))
        )

    @roles(Role.FINANCE)
    @blp.arguments(PayRateIn)
    @blp.response(201, PayRateOut)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """An effective-dated rate per hour or 课时, optionally capped per person and month.

        Refused: ``rate_overlaps`` (rates are never edited; a change starts a new rate).
        """
        s = school_in_scope(session(), school)
        rate = payroll.create_pay_rate(session(), s, actor=actor(), **data)
        audit.commit("pay_rate.create", f"pay_rate:{rate.id}")
        return rate


# --------------------------------------------------------------------------- hours


@blp.route("/schools/<school>/service-hours")
class Hours(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.TEACHER)
    @blp.arguments(HoursQuery, location="query")
    @blp.response(200, HoursList)
    def get(self, args: dict[str, Any], school: str) -> dict[str, Any]:
        """Hours logged in a month; a teacher sees only their own."""
        year, month = _month(args["month"])
        from ledger.school.calendar import month_bounds

        first, last = month_bounds(year, month)
        q = select(ServiceHours).where(
            ServiceHours.service_date >= first, ServiceHours.service_date <= last
        )
        if g.user.role == Role.TEACHER:
            own = _own_staff_ids()
            q = q.where(ServiceHours.staff_id.in_(own))
            from ledger.school.models import School

            s = session().scalar(select(School).where(School.code == school))
            if s is None or not own:
                raise NotFound(f"no school {school}")
        else:
            s = school_in_scope(session(), school)
        q = q.where(ServiceHours.school_id == s.id)
        if args["staff"] is not None:
            q = q.where(ServiceHours.staff_id == args["staff"])
        return {
            "items": list(session().scalars(q.order_by(ServiceHours.service_date, ServiceHours.id)))
        }

    @roles(Role.FINANCE)
    @blp.arguments(HoursIn)
    @blp.response(201, HoursOut)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Log a session served. Refused: ``not_a_service_day``, ``outside_session``,
        ``too_many_lessons``, ``overlapping_session``."""
        s = school_in_scope(session(), school)
        staff = payroll.get_staff(session(), s, data["staff"])
        programme = session().get(Programme, data["programme"])
        if programme is None or programme.school_id != s.id:
            raise NotFound(f"no programme {data['programme']} at school {school}")
        hours = payroll.log_hours(
            session(),
            s,
            staff,
            programme,
            day=data["day"],
            start=data["start"],
            end=data["end"],
            lessons=data["lessons"],
            actor=actor(),
        )
        audit.commit("hours.log", f"hours:{hours.id}")
        return hours


@blp.route("/service-hours/<int:hours_id>/decide")
class DecideHours(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(DecideIn)
    @blp.response(200, HoursOut)
    def post(self, data: dict[str, Any], hours_id: int) -> Any:
        """Approve or reject logged hours; only approved hours are paid."""
        hours = session().get(ServiceHours, hours_id)
        if hours is None:
            raise NotFound(f"no hours {hours_id}")
        try:
            school_by_id_in_scope(session(), hours.school_id)
        except NotFound:
            raise NotFound(f"no hours {hours_id}") from None
        payroll.approve_hours(session(), hours, approve=data["approve"], actor=actor())
        audit.commit("hours.decide", f"hours:{hours.id}", {"approve": data["approve"]})
        return hours


# --------------------------------------------------------------------------- pay runs


@blp.route("/schools/<school>/pay-runs")
class PayRuns(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(PayRunIn)
    @blp.response(201, PayRunOut)
    @blp.alt_response(200, schema=PayRunOut, description=REPLAYED)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Pay a month's approved hours: stipends (``Dr 5001 / Cr 2211.S``) and labour fees
        (``Dr 5002 / Cr 2221 tax / Cr 2211.S net``, one payment per person and month).

        Run again, it pays only hours approved since (late hours are taxed as
        part of the month's one payment). Requires ``Idempotency-Key``.
        Refused: ``no_pay_rate``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        target = f"school:{school}/pay-month:{data['month']}"
        for detail in replay.details("pay_run.create", target, key):
            lines = [session().get(PayLine, i) for i in detail.get("lines", [])]
            return {
                "run": detail.get("run"),
                "month": data["month"],
                "lines": lines,
                "already_paid_sessions": detail.get("already", 0),
            }, 200
        year, month = _month(data["month"])
        result = payroll.run_pay(session(), s, year, month, on=data["on"], actor=actor())
        view = {
            "run": result.run.id if result.run else None,
            "month": data["month"],
            "lines": result.lines,
            "already_paid_sessions": result.already_paid_sessions,
        }
        audit.commit(
            "pay_run.create",
            target,
            {
                "key": key,
                "run": view["run"],
                "lines": [x.id for x in result.lines],
                "already": result.already_paid_sessions,
            },
        )
        return view


@blp.route("/staff/<int:staff_id>/payout-sheet")
class PayoutSheet(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN, Role.TEACHER)
    @blp.arguments(MonthArgs, location="query")
    @blp.response(200, PayoutSheetOut)
    def get(self, args: dict[str, Any], staff_id: int) -> Any:
        """One person's month: sessions, hours, rate and amount; gross, tax withheld and net.
        A teacher reads only their own."""
        staff = _staff_in_scope(staff_id)
        year, month = _month(args["month"])
        return payroll.payout_sheet(session(), staff, year, month)


@blp.route("/schools/<school>/tax-withheld")
class TaxWithheld(MethodView):
    @roles(*READERS)
    @blp.arguments(MonthArgs, location="query")
    @blp.response(200, TaxReportOut)
    def get(self, args: dict[str, Any], school: str) -> Any:
        """The month's labour fees per person: gross, taxable, tax and net (代扣代缴明细).
        ID numbers are masked except to the school's finance staff."""
        s = school_in_scope(session(), school)
        year, month = _month(args["month"])
        items = payroll.tax_withheld_report(session(), s, year, month)
        if g.user.role != Role.FINANCE:
            for item in items:
                item["id_number"] = payroll.mask_id(item["id_number"])
        return {
            "school": s.code,
            "month": args["month"],
            "items": items,
            "gross": sum(i["gross"] for i in items),
            "tax": sum(i["tax"] for i in items),
            "net": sum(i["net"] for i in items),
        }


# --------------------------------------------------------------------------- vendors


def _vendor_view(v: Vendor) -> dict[str, Any]:
    district = session().get(District, v.district_id)
    return {
        "id": v.id,
        "district": district.code,
        "name": v.name,
        "uscc": v.uscc,
        "qualification": v.qualification,
        "services": v.services,
        "approved_price": v.approved_price,
        "price_unit": v.price_unit,
        "valid_from": v.valid_from,
        "valid_to": v.valid_to,
        "status": v.status,
    }


@blp.route("/districts/<district>/vendors")
class Vendors(MethodView):
    @roles(*READERS)
    @blp.response(200, VendorList)
    def get(self, district: str) -> dict[str, Any]:
        """The district's whitelist (白名单)."""
        d = district_in_scope(session(), district)
        rows = session().scalars(
            select(Vendor).where(Vendor.district_id == d.id).order_by(Vendor.id)
        )
        return {"items": [_vendor_view(v) for v in rows]}

    @roles(Role.FINANCE)
    @blp.arguments(VendorIn)
    @blp.response(201, VendorOut)
    def post(self, data: dict[str, Any], district: str) -> Any:
        """Whitelist a vendor. Refused: ``invalid_uscc`` (checked with its check character),
        ``vendor_exists``."""
        d = district_in_scope(session(), district)
        v = vendors.create_vendor(session(), d, actor=actor(), **data)
        view = _vendor_view(v)
        audit.commit("vendor.create", f"vendor:{v.id}")
        return view


def _vendor_in_scope(vendor_id: int) -> Vendor:
    v = session().get(Vendor, vendor_id)
    if v is None:
        raise NotFound(f"no vendor {vendor_id}")
    from ..scope import district_ids

    ids = district_ids(session(), g.user)
    if ids is not None and v.district_id not in ids:
        raise NotFound(f"no vendor {vendor_id}")
    return v


@blp.route("/vendors/<int:vendor_id>/status")
class VendorStatus(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(VendorStatusIn)
    @blp.response(200, VendorOut)
    def post(self, data: dict[str, Any], vendor_id: int) -> Any:
        """Suspend, reinstate or remove a vendor from a date on, with a reason."""
        v = _vendor_in_scope(vendor_id)
        vendors.set_vendor_status(session(), v, actor=actor(), **data)
        view = _vendor_view(v)
        audit.commit("vendor.status", f"vendor:{v.id}", {"status": data["status"]})
        return view


@blp.route("/schools/<school>/purchase-agreements")
class Agreements(MethodView):
    @roles(*READERS)
    @blp.response(200, AgreementOut(many=True))
    def get(self, school: str) -> Any:
        s = school_in_scope(session(), school)
        return list(
            session().scalars(
                select(PurchaseAgreement)
                .where(PurchaseAgreement.school_id == s.id)
                .order_by(PurchaseAgreement.id)
            )
        )

    @roles(Role.FINANCE)
    @blp.arguments(AgreementIn)
    @blp.response(201, AgreementOut)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """A purchase agreement with a whitelisted vendor for a programme. Refused:
        ``vendor_not_whitelisted``, ``vendor_suspended``, ``vendor_removed``,
        ``vendor_out_of_dates``, ``price_above_whitelist``."""
        s = school_in_scope(session(), school)
        programme = session().get(Programme, data["programme"])
        if programme is None or programme.school_id != s.id:
            raise NotFound(f"no programme {data['programme']} at school {school}")
        a = vendors.create_agreement(
            session(),
            s,
            vendor_id=data["vendor"],
            programme=programme,
            reference=data["reference"],
            unit=data["unit"],
            price=data["price"],
            start=data["start"],
            end=data["end"],
            cap=data["cap"],
            actor=actor(),
        )
        audit.commit("agreement.create", f"agreement:{a.id}")
        return a


@blp.route("/schools/<school>/vendor-bills")
class VendorBills(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(BillIn)
    @blp.response(201, BillOut)
    @blp.alt_response(200, schema=BillOut, description=REPLAYED)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Accept a vendor's bill for delivered sessions: ``Dr 5003 / Cr 2202.V``.

        Refused with nothing written: ``vendor_not_whitelisted``,
        ``vendor_suspended``, ``vendor_removed``, ``vendor_out_of_dates``,
        ``no_agreement``, ``above_agreed_price``, ``agreement_cap_exceeded``,
        ``bill_exists``. Requires ``Idempotency-Key``.
        """
        s = school_in_scope(session(), school)
        key = _idempotency_key(required=True)
        target = f"school:{school}/vendor-bill"
        for detail in replay.details("vendor_bill.record", target, key):
            return session().get(VendorBill, detail["bill"]), 200
        bill = vendors.record_bill(
            session(),
            s,
            vendor_id=data["vendor"],
            agreement_id=data["agreement"],
            reference=data["reference"],
            service_date=data["service_date"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            actor=actor(),
        )
        audit.commit("vendor_bill.record", target, {"key": key, "bill": bill.id})
        return bill


# --------------------------------------------------------------------------- payouts


def _batch_view(batch: PayoutBatch) -> dict[str, Any]:
    return {
        "id": batch.id,
        "method": batch.method,
        "reference": batch.reference,
        "status": batch.status,
        "total": batch.total,
        "paid_on": batch.paid_on,
        "entry_id": batch.entry_id,
        "items": payouts.batch_items(session(), batch),
    }


def _batch_in_scope(batch_id: int) -> PayoutBatch:
    batch = session().get(PayoutBatch, batch_id)
    if batch is None:
        raise NotFound(f"no payout batch {batch_id}")
    try:
        school_by_id_in_scope(session(), batch.school_id)
    except NotFound:
        raise NotFound(f"no payout batch {batch_id}") from None
    return batch


@blp.route("/schools/<school>/payout-batches")
class Batches(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(BatchIn)
    @blp.response(201, BatchOut)
    def post(self, data: dict[str, Any], school: str) -> Any:
        """Draft a payout batch. Refused: ``already_paid``, ``already_in_batch``,
        ``duplicate_item``, ``invalid_source``, ``not_payroll``, ``nothing_to_pay``."""
        s = school_in_scope(session(), school)
        batch = payouts.create_batch(
            session(),
            s,
            method=data["method"],
            reference=data["reference"],
            items=[(i["source"], i["id"]) for i in data["items"]],
            actor=actor(),
        )
        view = _batch_view(batch)
        audit.commit("payout.draft", f"payout_batch:{batch.id}")
        return view


@blp.route("/payout-batches/<int:batch_id>")
class OneBatch(MethodView):
    @roles(*READERS)
    @blp.response(200, BatchOut)
    def get(self, batch_id: int) -> Any:
        return _batch_view(_batch_in_scope(batch_id))


@blp.route("/payout-batches/<int:batch_id>/pay")
class PayBatch(MethodView):
    @roles(Role.FINANCE)
    @blp.arguments(PayIn)
    @blp.response(200, BatchOut)
    def post(self, data: dict[str, Any], batch_id: int) -> Any:
        """Pay a draft batch from the bank account 1002 (one entry). Requires
        ``Idempotency-Key``; a retry answers the batch as paid. Refused:
        ``batch_already_paid``, ``batch_cancelled``, ``insufficient_funds``."""
        batch = _batch_in_scope(batch_id)
        key = _idempotency_key(required=True)
        target = f"payout_batch:{batch.id}"
        if replay.seen("payout.pay", target, key):
            return _batch_view(batch)
        payouts.pay_batch(session(), batch, paid_on=data["paid_on"], actor=actor())
        view = _batch_view(batch)
        audit.commit("payout.pay", target, {"key": key})
        return view


@blp.route("/payout-batches/<int:batch_id>/cancel")
class CancelBatch(MethodView):
    @roles(Role.FINANCE)
    @blp.response(200, BatchOut)
    def post(self, batch_id: int) -> Any:
        """Cancel a draft batch; its payables may be batched again."""
        batch = _batch_in_scope(batch_id)
        payouts.cancel_batch(session(), batch, actor=actor())
        view = _batch_view(batch)
        audit.commit("payout.cancel", f"payout_batch:{batch.id}")
        return view


@blp.route("/payout-batches/<int:batch_id>/payroll.csv")
class PayrollExport(MethodView):
    @roles(Role.FINANCE, Role.AUDITOR, Role.ADMIN)
    @blp.response(200, description="CSV for the payroll system")
    def get(self, batch_id: int) -> Any:
        """The payroll system's import file for a payroll transfer."""
        batch = _batch_in_scope(batch_id)
        body = payouts.payroll_export(session(), batch)
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="payroll-{batch.id}.csv"'},
        )


# --------------------------------------------------------------------------- fund use


@blp.route("/schools/<school>/fund-use")
class FundUse(MethodView):
    @roles(*READERS)
    @blp.arguments(FundUseArgs, location="query")
    @blp.response(200, FundUseOut)
    def get(self, args: dict[str, Any], school: str) -> Any:
        """Income by payer, spending by kind, the share paid to the people who ran the
        service, and the balance left, for a term — all sums of the book's postings."""
        s = school_in_scope(session(), school)
        term = session().get(Term, args["term"])
        if term is None or term.school_id != s.id:
            raise NotFound(f"no term {args['term']} at school {school}")
        return fund_use.fund_use(session(), s, term)
