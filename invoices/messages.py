"""The documents' words in Chinese (first) and English: one catalogue, one template per document.

Keys are ``<group>.<name>``; codes from the data (units, programme kinds,
statement line kinds, payment methods) are looked up as ``<group>.<code>``.
Values may hold ``{name}`` fields filled by :func:`message`. The GLOSSARY's
terms are used on both sides.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh-CN", "en")

#: key -> (zh-CN, en)
CATALOGUE: dict[str, tuple[str, str]] = {
    # ------------------------------------------------------------------ common
    "doc.number": ("编号", "No."),
    "doc.household": ("家庭", "Household"),
    "doc.period": ("服务期间", "Service period"),
    "doc.total": ("合计", "Total"),
    "doc.capitals": ("大写金额", "Amount in Chinese capitals"),
    "doc.yuan": ("元", "yuan"),
    "doc.bank": ("开户银行", "Bank"),
    "doc.account": ("课后服务专户账号", "After-school service account"),
    "doc.government": ("财政补贴", "Government subsidy"),
    "doc.school_share": ("学校分担", "School share"),
    "doc.parent_share": ("家长分担", "Parent share"),
    "doc.complaints": ("监督投诉电话：", "Complaints telephone:"),
    "doc.none": ("无", "none"),
    "dashboard.title": ("课后服务经费看板", "After-school finance dashboard"),
    "sep.colon": ("：", ": "),
    "sep.comma": ("，", ", "),
    "sep.semicolon": ("；", "; "),
    "sep.list": ("、", ", "),
    "weekday.1": ("周一", "Mon"),
    "weekday.2": ("周二", "Tue"),
    "weekday.3": ("周三", "Wed"),
    "weekday.4": ("周四", "Thu"),
    "weekday.5": ("周五", "Fri"),
    "weekday.6": ("周六", "Sat"),
    "weekday.7": ("周日", "Sun"),
    # ------------------------------------------------------------------ columns
    "col.student": ("学生", "Student"),
    "col.programme": ("服务项目", "Programme"),
    "col.days": ("服务天数", "Service days"),
    "col.cost": ("服务成本", "Full cost"),
    "col.government": ("财政补贴", "Government"),
    "col.school": ("学校分担", "School"),
    "col.parent": ("家长分担", "Parent share"),
    "col.waiver": ("减免", "Waiver"),
    "col.payable": ("应缴金额", "Payable"),
    "col.reason": ("减免原因", "Reason"),
    "col.covered_by": ("减免承担", "Covered by"),
    "col.item": ("项目", "Item"),
    "col.standard": ("收费标准", "Approved fee standard"),
    "col.authority": ("核定部门", "Approved by"),
    "col.document_no": ("文号", "Document no."),
    "col.valid": ("有效期", "Valid"),
    "col.invoice": ("通知单编号", "Invoice"),
    "col.amount": ("金额", "Amount"),
    "col.date": ("日期", "Date"),
    "col.balance": ("余额", "Balance"),
    # ------------------------------------------------------------------ invoice
    "invoice.title": ("课后服务缴费通知单", "After-school service fee notice"),
    "invoice.students": ("学生", "Students"),
    "invoice.issued_on": ("开具日期", "Issued on"),
    "invoice.charges": ("收费明细与成本分担", "Charges and cost sharing"),
    "invoice.days_note": (
        "服务天数为本期已登记的服务日数/本期服务日总数；费用按服务日折算，四舍五入到分，"
        "财政补贴和学校分担部分由政府和学校承担，不向家长收取。",
        "Service days: days enrolled / service days in the period; the cost is prorated by "
        "service days and rounded to the fen once. The government and school shares are paid "
        "by them, not by the household.",
    ),
    "invoice.waivers": ("减免", "Waivers"),
    "invoice.basis": ("收费依据", "Approved fee standard"),
    "invoice.sharing": (
        "{kind}成本分担：服务成本每{unit} {cost} 元，其中",
        "Cost sharing for {kind}: full cost {cost} per {unit}, of which",
    ),
    "invoice.waiver_rule": ("减免部分由{cover}承担", "waivers are covered by {cover}"),
    "invoice.amount_due": ("本期应缴金额", "Amount due"),
    "invoice.due_date": ("缴费截止日期", "Due date"),
    "invoice.how_to_pay": ("缴费方式", "How to pay"),
    "invoice.pay_to": (
        "请转账至{name}课后服务专户，并在附言中注明通知单编号：",
        "Pay by bank transfer to the after-school service account of {name}, quoting the "
        "notice number:",
    ),
    "invoice.reference": ("附言", "Reference"),
    "invoice.no_third_party": (
        "课后服务费由学校统一收取，任何教师、供应商或第三方不得代收。",
        "Fees are collected by the school only; no teacher, vendor or third party may collect "
        "them.",
    ),
    "invoice.cancelled": ("已作废（{on}）：{reason}", "CANCELLED on {on}: {reason}"),
    "invoice.reissue_of": ("本通知单重开自 {number}", "Reissue of {number}"),
    # ------------------------------------------------------------------ receipt
    "receipt.title": ("课后服务费收据", "After-school service fee receipt"),
    "receipt.received_from": ("交款家庭", "Received from"),
    "receipt.received_on": ("收款日期", "Received on"),
    "receipt.method": ("缴费方式", "Method"),
    "receipt.reference": ("附言", "Reference"),
    "receipt.into": ("收款账户", "Received into"),
    "receipt.payment": ("收款记录号", "Payment record"),
    "receipt.amount": ("收款金额", "Amount received"),
    "receipt.settled": ("冲抵明细", "Applied to"),
    "receipt.to_credit": ("转入家庭预收款", "Household credit"),
    "receipt.note": (
        "本收据由学校课后服务账簿自动生成，与账簿记录一致。",
        "This receipt is generated from the school's after-school books and matches them.",
    ),
    "receipt.returned": ("该笔款项已退回（{on}）：{reason}", "RETURNED on {on}: {reason}"),
    # ------------------------------------------------------------------ statement
    "statement.title": ("课后服务费对账单", "Household statement of account"),
    "statement.schools": ("学校", "Schools"),
    "statement.sign": ("余额说明", "Balance"),
    "statement.sign_note": (
        "余额为家庭应缴金额；“结余”为学校代存的家庭预收款",
        "what the household owes; 'credit' is money the school holds for the household",
    ),
    "statement.opening": ("期初余额", "Opening balance"),
    "statement.closing": ("期末余额", "Closing balance"),
    "statement.summary": ("汇总", "Summary"),
    "statement.owed": ("其中：应收未缴", "of which owed on invoices"),
    "statement.credit_held": ("其中：家庭预收款结余", "of which household credit held"),
    "statement.credit_balance": ("结余 {amount}", "credit {amount}"),
    "statement.applied": ("以预收款抵缴 {amount}", "credit applied {amount}"),
    "statement.pay_to": (
        "{name}课后服务专户：{bank} {account}",
        "{name} after-school service account: {bank} {account}",
    ),
    # ------------------------------------------------------------------ subsidy claim
    "subsidy_claim.title": ("课后服务财政补贴申报表", "After-school service subsidy claim"),
    "claim.to": ("申报对象", "Claimed from"),
    "claim.claimed_on": ("申报日期", "Claimed on"),
    "claim.students": ("学生人数", "Students"),
    "claim.account": ("应收科目", "Receivable account"),
    "claim.status": ("状态", "Status"),
    "claim.amount": ("申报财政补贴金额", "Subsidy claimed"),
    "claim.received": ("已到账 {amount} 元", "received so far: {amount}"),
    "claim.pay_to": (
        "请拨付至{name}课后服务专户：{bank} {account}",
        "Please pay into the after-school service account of {name}: {bank} {account}",
    ),
    "claim.note": (
        "各行金额为按成本分担政策计入的财政补贴部分（含由财政承担的减免）。",
        "Each line is the government share posted under the cost-sharing policy, including "
        "waivers the government covers.",
    ),
    "claim.sign_school": ("学校（盖章）", "School (seal)"),
    "claim.sign_finance": ("经办人", "Prepared by"),
    "claim.sign_bureau": ("教育局审核", "Education bureau"),
    # ------------------------------------------------------------------ disclosure
    "disclosure.title": ("课后服务收费公示", "Fee disclosure notice"),
    "disclosure.intro": (
        "根据有关规定，现将{school}{term}（{start}至{end}）课后服务收费项目、标准及依据公示如下：",
        "{school} discloses the after-school service fees of {term} ({start} to {end}), their "
        "standards and approvals:",
    ),
    "disclosure.sharing": ("成本分担", "Cost sharing"),
    "disclosure.per_unit": ("每{unit}服务成本 {cost} 元：", "Full cost per {unit} {cost}:"),
    "disclosure.waivers": ("减免政策", "Waivers"),
    "disclosure.waiver_rule": (
        "家庭经济困难学生免收，留守儿童、进城务工人员随迁子女优先；减免部分由{cover}承担。",
        "Hardship students pay nothing; left-behind and migrant children have priority. "
        "Waivers are covered by {cover}.",
    ),
    "disclosure.refunds": ("退费规则", "Refunds"),
    "disclosure.schedule": ("服务安排", "Schedule"),
    "disclosure.weekdays": ("{days}", "{days}"),
    "disclosure.capacity": ("限{n}人", "capacity {n}"),
    "disclosure.no_policy": (
        "尚无生效的成本分担政策，不收费。",
        "No cost-sharing policy in force: no fee.",
    ),
    "disclosure.principles": ("收费原则", "Principles"),
    "disclosure.voluntary": (
        "课后服务遵循家长自愿原则：家长申请、班级审核、学校统一实施，未经批准不收费。",
        "Participation is voluntary: guardians apply, the class reviews, the school approves; "
        "nothing is charged without an approved enrolment.",
    ),
    "disclosure.no_other_fees": (
        "除上述项目外不得收取任何其他费用，严禁乱收费。",
        "No fee beyond the items above may be charged.",
    ),
    "disclosure.pay_to": (
        "费用由学校统一收取，缴入课后服务专户：{bank} {account}；不得由第三方代收。",
        "Fees are collected by the school into its after-school service account {bank} "
        "{account}; no third party collects them.",
    ),
    # ------------------------------------------------------------------ payout sheet
    "payout_sheet.title": ("课后服务教师补助及劳务费发放表", "Stipend and labour-fee payout sheet"),
    "payout.name": ("姓名", "Name"),
    "payout.kind": ("人员类别", "Staff"),
    "payout.month": ("所属月份", "Month"),
    "payout.month_value": ("{year}年{month}月", "{year}-{month:02d}"),
    "payout.id": ("证件", "ID"),
    "payout.time": ("时间", "Time"),
    "payout.lessons": ("课时", "Lessons"),
    "payout.rate": ("标准", "Rate"),
    "payout.minutes": ("分钟", "Minutes"),
    "payout.capped": ("超出月度上限未发", "Above the monthly cap, not paid"),
    "payout.gross": ("应发金额", "Gross"),
    "payout.tax": ("代扣个人所得税", "Income tax withheld"),
    "payout.net": ("实发金额", "Net paid"),
    "payout.month_total": ("本月合计", "Month total"),
    "payout.nothing": ("本月无已发放的服务记录。", "Nothing paid for this month."),
    "payout.note": (
        "劳务报酬按月合并预扣预缴个人所得税；金额按服务记录和经核定的补助标准计算，每人每月舍入一次。",
        "Labour fees are taxed per month as one payment (pre-withholding); amounts follow the "
        "approved service hours and rates, rounded once per person and month.",
    ),
    # ------------------------------------------------------------------ remittance
    "remittance.title": ("课后服务购买服务付款通知", "Vendor remittance advice"),
    "remit.to": ("收款单位", "Payee"),
    "remit.uscc": ("统一社会信用代码", "Unified social credit code"),
    "remit.paid_on": ("付款日期", "Paid on"),
    "remit.reference": ("付款附言", "Payment reference"),
    "remit.from": ("付款账户", "Paid from"),
    "remit.batch": ("付款批次", "Payout batch"),
    "remit.bill": ("账单号", "Bill"),
    "remit.agreement": ("协议", "Agreement"),
    "remit.quantity": ("数量×单价", "Qty × price"),
    "remit.amount": ("本次付款金额", "Amount paid"),
    "remit.note": (
        "服务机构须在区白名单内；费用由学校从课后服务专户支付，服务机构不得向家长收费。",
        "Vendors are on the district whitelist; the school pays them from its after-school "
        "account, and a vendor never collects from parents.",
    ),
    # ------------------------------------------------------------------ coverage report
    "coverage.title": ("课后服务覆盖情况报告", "After-school service coverage report"),
    "coverage.intro": (
        "{school}{term}（{start}至{end}）课后服务开展情况报告如下：",
        "After-school service at {school} in {term} ({start} to {end}):",
    ),
    "coverage.students": ("学生参与情况", "Students served"),
    "coverage.group": ("类别", "Group"),
    "coverage.all": ("全体学生", "All students"),
    "coverage.of": ("学生人数", "Students"),
    "coverage.served": ("参加人数", "Served"),
    "coverage.share": ("参与率", "Share served"),
    "coverage.programmes": ("服务项目", "Programmes"),
    "coverage.kind": ("类型", "Kind"),
    "coverage.schedule": ("服务时间", "Schedule"),
    "coverage.capacity": ("计划人数", "Capacity"),
    "coverage.enrolled": ("在册人数", "Enrolled now"),
    "coverage.staff": ("参与人员", "Staff taking part"),
    "coverage.staff_kind": ("人员类别", "Staff"),
    "coverage.people": ("人数", "People"),
    "coverage.sessions": ("服务次数", "Sessions"),
    "coverage.hours": ("服务时长（小时）", "Hours"),
    "coverage.lessons": ("课时", "Lessons"),
    "coverage.delivered": ("服务时长", "Hours delivered"),
    "coverage.compliance": ("“5+2”落实情况", "5+2 compliance"),
    "coverage.result": ("结果", "Result"),
    "coverage.compliant": ("符合", "meets 5+2"),
    "coverage.not_compliant": ("不符合", "does not meet 5+2"),
    "coverage.term_shape": ("本学期课后服务整体", "All programmes of the term together"),
    "coverage.end_of_work": ("当地下班时间 {time}", "local end of work {time}"),
    "coverage.none": ("—", "—"),
    "coverage.note": (
        "参加人数为本学期内至少有一天处于有效报名状态的学生（按人计，不重复）；在册人数为目前未退出的报名；"
        "服务时长和参与人员仅统计已审核的服务记录。",
        "Served: distinct students with an enrolment active on at least one day of the term; "
        "enrolled now: enrolments not withdrawn; hours and staff count approved service "
        "records only.",
    ),
    "group.left_behind": ("留守儿童", "Left-behind children"),
    "group.migrant": ("进城务工人员随迁子女", "Migrant children"),
    "group.hardship": ("家庭经济困难学生", "Hardship students"),
    "shape.fewer_than_five_days": ("每周不足5天", "fewer than five days a week"),
    "shape.under_two_hours": ("每天不足2小时", "under two hours a day"),
    "shape.ends_before_end_of_work": ("早于当地下班时间结束", "ends before the local end of work"),
    # ------------------------------------------------------------------ audit report
    "audit_report.title": ("课后服务审计报告", "After-school service audit report"),
    "audit_report.scope": ("审计范围", "Scope"),
    "audit_report.scope_school": ("学校", "School"),
    "audit_report.scope_district": ("区域", "District"),
    "audit_report.schools": ("所含学校", "Schools"),
    "audit_report.range": ("审计期间", "Period audited"),
    "audit_report.run_at": ("生成时间", "Run at"),
    "audit_report.run_by": ("执行人", "Run by"),
    "audit_report.rules_run": ("执行规则", "Rules run"),
    "audit_report.summary": ("一、审计摘要", "1. Summary"),
    "audit_report.chart": ("各规则发现数", "Findings by rule"),
    "audit_report.findings": ("二、发现事项及证据", "2. Findings and their evidence"),
    "audit_report.no_findings": ("未发现问题。", "No findings."),
    "audit_report.total": ("合计", "Total"),
    "audit_report.rule": ("规则", "Rule"),
    "audit_report.severity": ("严重程度", "Severity"),
    "audit_report.description": ("检查内容", "What it checks"),
    "audit_report.count": ("发现数", "Findings"),
    "audit_report.acknowledged": ("已答复", "Acknowledged"),
    "audit_report.school": ("学校", "School"),
    "audit_report.subject": ("对象", "Subject"),
    "audit_report.date": ("日期", "Date"),
    "audit_report.evidence": ("证据", "Evidence"),
    "audit_report.answer": ("财务答复", "Finance's answer"),
    "audit_report.answer_text": ("{by}（{at}）：{note}", "{by} ({at}): {note}"),
    "audit_report.no_answer": ("未答复", "Not acknowledged"),
    "audit_report.note": (
        "审计结果依据系统中存储的数据在生成时重新计算；答复不会删除发现事项。金额以分为单位。",
        "Findings are recomputed from the stored data when the report is run; an answer never "
        "removes a finding. Amounts in the evidence are in fen.",
    ),
    "severity.critical": ("严重", "Critical"),
    "severity.high": ("高", "High"),
    "severity.review": ("待复核", "For review"),
    "audit_rule.charge_without_consent": ("未经申请审批收费", "Charge without consent"),
    "audit_rule.household_adjustment": ("手工调整家庭账户", "Manual household adjustment"),
    "audit_rule.charge_above_standard": ("超标准收费", "Charge above the standard"),
    "audit_rule.charged_despite_waiver": ("应免未免", "Charged despite a waiver"),
    "audit_rule.duplicate_charge": ("重复收费", "Duplicate charge"),
    "audit_rule.charge_outside_enrolment": ("报名期外收费", "Charge outside the enrolment"),
    "audit_rule.payment_not_to_school_bank": (
        "未缴入学校专户",
        "Payment not to the school's account",
    ),
    "audit_rule.vendor_bill_not_allowed": ("不合规的购买服务账单", "Vendor bill not allowed"),
    "audit_rule.pay_for_invalid_hours": ("无效服务时长付酬", "Pay for invalid hours"),
    "audit_rule.unbalanced_entry": ("借贷不平", "Unbalanced entry"),
    "audit_rule.balance_mismatch": ("余额不符", "Balance mismatch"),
    "audit_rule.broken_chain": ("哈希链断裂", "Broken hash chain"),
    "audit_rule.entry_in_closed_period": ("已结账期间记账", "Entry in a closed period"),
    # ------------------------------------------------------------------ codes
    "unit.term": ("学期", "term"),
    "unit.month": ("月", "month"),
    "unit.day": ("服务日", "service day"),
    "unit.lesson": ("课时", "session hour"),
    "kind.basic_care": ("基本托管", "Basic care"),
    "kind.enrichment": ("素质拓展", "Enrichment"),
    "kind.extended_care": ("延时托管", "Extended care"),
    "cover.government": ("财政", "the government"),
    "cover.school": ("学校", "the school"),
    "cover.absorbed": ("学校收入核减", "the programme (absorbed)"),
    "refund.daily": (
        "退出的，按未服务天数占已收费服务天数的比例退费（按天退费）。",
        "On withdrawal, refund by unused service days over billed service days (daily).",
    ),
    "refund.half_month": (
        "连续缺勤满15天按半月、满30天按一个月退费。",
        "A continuous absence of 15 days is refunded as half a month, 30 days as a month.",
    ),
    "method.bank_transfer": ("银行转账", "bank transfer"),
    "method.wechat": ("微信", "WeChat Pay"),
    "method.alipay": ("支付宝", "Alipay"),
    "method.cash": ("现金", "cash"),
    "method.card": ("银行卡", "card"),
    "method.other": ("其他", "other"),
    "line.charge": ("服务费", "Charge"),
    "line.waiver": ("减免", "Waiver"),
    "line.credit": ("退费", "Credit"),
    "line.cancellation": ("通知单作废", "Invoice cancelled"),
    "line.payment": ("缴费", "Payment"),
    "line.payment_returned": ("缴费退回", "Payment returned"),
    "line.credit_applied": ("预收款抵缴", "Credit applied"),
    "line.credit_application_undone": ("撤销抵缴", "Credit application undone"),
    "line.refund": ("退款", "Refund"),
    "line.write_off": ("小额核销", "Written off"),
    "line.adjustment": ("调整", "Adjustment"),
    "reason.withdrawal": ("退出", "withdrawal"),
    "reason.absence": ("请假", "absence"),
    "reason.waiver": ("补办减免", "late waiver"),
    "reason.cancel": ("作废", "cancelled"),
    "reason.apply": ("抵缴", "applied"),
    "reason.reissue": ("重开结转", "carried to reissue"),
    "reason.return": ("退票冲回", "taken back (returned payment)"),
    "reason.hardship": ("家庭经济困难", "economic hardship"),
    "staff.teacher": ("本校教师", "school teacher"),
    "staff.external": ("校外人员", "external staff"),
    "staff.volunteer": ("志愿者", "volunteer"),
    "id_type.resident_id": ("居民身份证", "resident ID"),
    "id_type.passport": ("护照", "passport"),
    "id_type.hk_macao_permit": ("港澳居民来往内地通行证", "Hong Kong/Macao permit"),
    "id_type.taiwan_permit": ("台湾居民来往大陆通行证", "Taiwan permit"),
    "id_type.foreign_permit": ("外国人永久居留身份证", "foreign permanent residence ID"),
    "pay.stipend": ("教师补助", "Teacher stipend"),
    "pay.labour_fee": ("劳务费", "Labour fee"),
    "pay_unit.hour": ("小时", "hour"),
    "pay_unit.lesson": ("课时", "session hour"),
    "claim_status.submitted": ("已申报", "submitted"),
    "claim_status.partially_received": ("部分到账", "partially received"),
    "claim_status.received": ("已到账", "received"),
}


def message(language: str, key: str, *, default: str | None = None, **values: Any) -> str:
    """The text of ``key`` in ``language``, with ``{fields}`` filled from ``values``.

    An unknown key is an error unless a ``default`` is given (codes from the
    data that have no label print as themselves).
    """
    try:
        pair = CATALOGUE[key]
    except KeyError:
        if default is not None:
            return default
        raise KeyError(f"no message {key!r}") from None
    text = pair[LANGUAGES.index(language)]
    return text.format(**values) if values else text
