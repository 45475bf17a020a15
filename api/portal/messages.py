"""Every string the portal shows, in Chinese first and English: one small catalogue.

Keys name where a string is used (``login.title``) or what it translates
(``invoice_status.paid``, ``line.charge``); values are ``(zh-CN, en)`` pairs
with ``str.format`` placeholders. Words follow docs GLOSSARY.md. ``wtforms:``
keys carry WTForms' own English messages, so field errors follow the page's
language too. A test checks that every key has both languages and that every
key the templates use exists.
"""

from __future__ import annotations

from typing import Any

from invoices.messages import CATALOGUE as DOCUMENT_CATALOGUE

from .dashboard_messages import DASHBOARD_MESSAGES

LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"
_MISSING = object()

MESSAGES: dict[str, tuple[str, str]] = {
    "app.name": ("课后服务家长端", "After-school parent portal"),
    "money": ("¥{amount}", "¥{amount}"),
    "lang.zh-CN": ("中文", "中文"),
    "lang.en": ("English", "English"),
    "footer.note": (
        "课后服务费用只缴入学校账户；如有疑问请联系学校或拨打投诉电话。",
        "After-school fees are paid only into the school's account; "
        "ask the school or call its complaints telephone with any question.",
    ),
    # navigation
    "nav.household": ("家庭", "Household"),
    "nav.overview": ("概览", "Overview"),
    "nav.invoices": ("缴费通知单", "Invoices"),
    "nav.statement": ("对账单", "Statement"),
    "nav.applications": ("报名", "Applications"),
    "nav.logout": ("退出登录", "Log out"),
    "nav.signed_in_as": ("当前用户：{email}", "Signed in as {email}"),
    # login
    "login.title": ("家长登录", "Parent login"),
    "login.intro": (
        "请使用学校为您开通的邮箱和密码登录。",
        "Log in with the email and password the school set up for you.",
    ),
    "login.email": ("邮箱", "Email"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.help": (
        "忘记密码或尚未开通？请联系学校财务。",
        "Forgot your password or have none yet? Ask the school's finance office.",
    ),
    "login.failed": (
        "邮箱或密码不正确，或尝试次数过多。请稍后再试。",
        "The email or password is not correct, or there were too many attempts. "
        "Please try again later.",
    ),
    "login.throttled": (
        "来自您所在网络的登录尝试过多，请稍后再试。",
        "Too many login attempts from your network. Please try again later.",
    ),
    # errors
    "error.not_found": ("页面不存在", "Page not found"),
    "error.not_allowed": ("不支持此操作", "This action is not allowed"),
    "error.bad_request": ("请求无效", "The request is not valid"),
    "error.csrf": (
        "表单已过期或无效，请返回并刷新页面后重试。",
        "The form has expired or is not valid; go back, reload the page and try again.",
    ),
    "error.internal": (
        "系统出错，未保存任何内容，请稍后再试。",
        "Something went wrong and nothing was saved; please try again later.",
    ),
    "error.status": ("状态码 {status}", "Status {status}"),
    "error.back": ("返回首页", "Back to the portal"),
    # overview
    "overview.title": ("家庭概览", "Household overview"),
    "overview.no_household": (
        "您的账号尚未关联家庭，请联系学校。",
        "Your account is not linked to a household yet; please contact the school.",
    ),
    "overview.due": ("应缴余额", "Balance due"),
    "overview.credit": ("家庭预收余额", "Household credit"),
    "overview.children": ("孩子", "Children"),
    "overview.no_children": ("暂无登记的孩子。", "No children registered."),
    "overview.no_programmes": ("暂未报名任何项目。", "Not signed up for any programme."),
    "overview.since": ("自 {date} 起", "since {date}"),
    "overview.until": ("{date} 起退出", "left on {date}"),
    # tables
    "col.school": ("学校", "School"),
    "col.programme": ("项目", "Programme"),
    "col.term": ("学期", "Term"),
    "col.time": ("时间", "Time"),
    "col.status": ("状态", "Status"),
    "col.number": ("编号", "Number"),
    "col.period": ("服务期间", "Period"),
    "col.issued_on": ("开具日期", "Issued on"),
    "col.due_date": ("缴费截止", "Due date"),
    "col.amount": ("金额", "Amount"),
    "col.outstanding": ("未缴", "Outstanding"),
    "col.pdf": ("PDF", "PDF"),
    "col.student": ("学生", "Student"),
    "col.cost": ("服务成本", "Full cost"),
    "col.waiver": ("减免", "Waiver"),
    "col.household_pays": ("家庭应缴", "Household pays"),
    "col.payer": ("承担方", "Payer"),
    "col.rule": ("分担规则", "Rule"),
    "col.date": ("日期", "Date"),
    "col.reason": ("原因", "Reason"),
    "col.household_part": ("退还家庭", "Back to household"),
    "col.item": ("项目", "Item"),
    "col.detail": ("说明", "Details"),
    "col.balance": ("余额", "Balance"),
    "col.applied_at": ("申请日期", "Applied on"),
    "col.start": ("开始日期", "Starts"),
    "col.note": ("审核意见", "Review note"),
    # invoices
    "invoices.title": ("缴费通知单", "Invoices"),
    "invoices.none": ("暂无缴费通知单。", "No invoices yet."),
    "invoices.download": ("下载 PDF", "Download PDF"),
    "invoice.title": ("缴费通知单 {number}", "Invoice {number}"),
    "invoice.charges": ("收费明细", "Charges"),
    "invoice.why": ("为什么是这个金额？", "Why this amount?"),
    "invoice_status.issued": ("待缴费", "Issued"),
    "invoice_status.partially_paid": ("部分已缴", "Partly paid"),
    "invoice_status.paid": ("已缴清", "Paid"),
    "invoice_status.overdue": ("已逾期", "Overdue"),
    "invoice_status.cancelled": ("已作废", "Cancelled"),
    "invoice_status.refunded": ("已退费", "Refunded"),
    # why this amount
    "why.title": ("为什么是这个金额", "Why this amount"),
    "why.summary": (
        "{student} · {programme} · {start} 至 {end}",
        "{student} · {programme} · {start} to {end}",
    ),
    "why.on_invoice": ("见缴费通知单 {number}", "On invoice {number}"),
    "why.standard": ("核定收费标准", "The approved fee standard"),
    "why.standard_text": (
        "{authority}以{document}核定：家长每{unit}最多缴纳 {amount}，有效期 {start} 至 {end}。",
        "Approved by {authority} ({document}): parents pay at most {amount} per {unit}, "
        "valid {start} to {end}.",
    ),
    "why.cost": ("服务成本", "The cost of the service"),
    "why.unit_cost": (
        "成本分担政策规定的服务成本为每{unit} {amount}。",
        "The cost-sharing policy sets the cost at {amount} per {unit}.",
    ),
    "why.units": ("本期按 {num}/{den} 个{unit}计算。", "This period counts as {num}/{den} {unit}."),
    "why.days": ("按实际服务 {days} 天计算。", "Charged for {days} service days."),
    "why.lessons": ("每次 {lessons} 课时。", "{lessons} session hours each."),
    "why.prorated": (
        "孩子在本期 {period} 个服务日中参加了 {enrolled} 天，按比例计算。",
        "The child attended {enrolled} of the period's {period} service days; "
        "the cost is prorated.",
    ),
    "why.full_period": ("整期服务（{days} 个服务日）。", "The whole period ({days} service days)."),
    "why.rounding": (
        "精确金额为 {exact} 分，四舍五入到分（只舍入一次）。",
        "The exact amount is {exact} fen, rounded half-up to the fen once.",
    ),
    "why.cost_total": ("本期服务成本：", "Cost for this period:"),
    "why.shares": ("成本分担", "Who pays what"),
    "why.share_percent": ("成本的 {percent}%", "{percent}% of the cost"),
    "why.share_amount": ("每{unit} {amount}", "{amount} per {unit}"),
    "why.parent_rule": (
        "成本减去财政和学校承担部分",
        "The cost less the government and school shares",
    ),
    "why.ceiling": (
        "按核定标准，本期家长承担部分最多为 {amount}。",
        "Under the approved standard the parent share for this period is at most {amount}.",
    ),
    "why.waivers": ("减免", "Waivers"),
    "why.no_waiver": ("本期没有减免。", "No waiver applies to this period."),
    "why.waiver_amount": (
        "减免 {amount}，由{cover}。",
        "{amount} waived, {cover}.",
    ),
    "why.waiver_grant": (
        "减免 {percent}%：{reason}（{start} 至 {end}）",
        "{percent}% waived: {reason} ({start} to {end})",
    ),
    "why.household": ("家庭应缴", "What the household pays"),
    "why.household_text": ("家庭应缴：", "The household pays:"),
    "why.credits": ("此后的退费", "Credits since"),
    "why.now": ("退费后家庭实际承担 {amount}。", "After credits the household carries {amount}."),
    "why.consent": ("报名申请与审批", "Application and approval"),
    "why.applied": ("{at} 由 {by} 提交申请。", "Applied for by {by} on {at}."),
    "why.written": (
        "书面申请（{ref}），{at} 由 {by} 录入。",
        "Written application ({ref}), recorded by {by} on {at}.",
    ),
    "why.reviewed": ("{at} 经班级审核（{by}）。", "Reviewed by the class ({by}) on {at}."),
    "why.approved": ("{at} 经学校审批同意（{by}）。", "Approved by the school ({by}) on {at}."),
    "payer.government": ("财政补贴", "Government subsidy"),
    "payer.school": ("学校分担", "School share"),
    "payer.parent": ("家长分担", "Parent share"),
    "cover.government": ("财政承担", "covered by the government"),
    "cover.school": ("学校承担", "covered by the school"),
    "cover.absorbed": ("学校核减收入", "absorbed by the school"),
    "unit.term": ("学期", "term"),
    "unit.month": ("月", "month"),
    "unit.day": ("服务日", "service day"),
    "unit.lesson": ("课时", "session hour"),
    "kind.basic_care": ("基本托管", "basic care"),
    "kind.enrichment": ("素质拓展", "enrichment"),
    "kind.extended_care": ("延时托管", "extended care"),
    "credit_reason.withdrawal": ("退出退费", "withdrawal"),
    "credit_reason.absence": ("长期请假退费", "long absence"),
    "credit_reason.waiver": ("减免退费", "late waiver"),
    "credit_reason.cancel": ("通知单作废", "invoice cancelled"),
    "reason.hardship": ("家庭经济困难学生免收", "hardship student (pays nothing)"),
    "reason.withdrawal": ("退出", "withdrawal"),
    "reason.absence": ("长期请假", "long absence"),
    "reason.waiver": ("减免", "waiver"),
    "reason.cancel": ("作废", "cancelled"),
    "reason.apply": ("使用预收余额", "credit applied"),
    "reason.reissue": ("作废重开结转", "carried from a cancelled invoice"),
    "reason.return": ("退票冲回", "taken back after a returned payment"),
    "reason.bank_transfer": ("银行转账", "bank transfer"),
    "reason.wechat": ("微信支付", "WeChat Pay"),
    "reason.alipay": ("支付宝", "Alipay"),
    "reason.cash": ("现金", "cash"),
    "reason.card": ("银行卡", "card"),
    "reason.other": ("其他", "other"),
    # statement
    "statement.title": ("对账单", "Statement"),
    "statement.from": ("开始日期", "From"),
    "statement.to": ("结束日期", "To"),
    "statement.show": ("查询", "Show"),
    "statement.range": ("{start} 至 {end}", "{start} to {end}"),
    "statement.opening": ("期初余额", "Opening balance"),
    "statement.closing": ("期末余额", "Closing balance"),
    "statement.sign": (
        "余额为正表示家庭应缴，为负表示学校为家庭预收。",
        "A positive balance is owed by the household; a negative one is held for it.",
    ),
    "statement.no_lines": ("此期间没有收支记录。", "Nothing happened in this period."),
    "statement.range_error": (
        "结束日期不能早于开始日期。",
        "The end date is before the start date.",
    ),
    "statement.range_too_long": ("查询期间不能超过十年。", "The range may not exceed ten years."),
    "line.charge": ("收费", "Charge"),
    "line.waiver": ("减免", "Waiver"),
    "line.credit": ("退费", "Credit"),
    "line.cancellation": ("作废冲销", "Cancellation"),
    "line.payment": ("缴费", "Payment"),
    "line.payment_returned": ("退票", "Payment returned"),
    "line.credit_applied": ("使用预收余额", "Credit applied"),
    "line.credit_application_undone": ("撤销使用预收", "Credit application undone"),
    "line.refund": ("退款", "Refund"),
    "line.write_off": ("小额核销", "Small balance written off"),
    "line.adjustment": ("调整", "Adjustment"),
    # applications
    "apply.title": ("报名", "Applications"),
    "apply.status_title": ("报名及审核状态", "Applications and their review"),
    "apply.none": ("还没有报名记录。", "No applications yet."),
    "apply.new_title": ("报名参加项目", "Apply for a programme"),
    "apply.intro": (
        "课后服务自愿参加：家长申请、班级审核、学校统一实施。审核通过后才会收费。",
        "After-school service is voluntary: you apply, the class reviews and the school "
        "approves. Nothing is charged before approval.",
    ),
    "apply.start_date": ("开始日期（可选）", "Start date (optional)"),
    "apply.start_hint": ("不填写则从学期开始。", "Leave empty to start with the term."),
    "apply.submit": ("提交申请", "Apply"),
    "apply.nothing_open": ("目前没有可报名的项目。", "No programme is open for applications."),
    "apply.done": ("申请已提交，等待班级审核。", "Application sent; the class will review it."),
    "apply.invalid": ("请选择项目并填写正确的日期。", "Choose a programme and a valid date."),
    "app_status.applied": ("待审核", "Awaiting review"),
    "app_status.reviewed": ("班级已审核，待学校批准", "Reviewed; awaiting the school"),
    "app_status.approved": ("已批准", "Approved"),
    "app_status.rejected": ("未通过", "Not approved"),
    "app_status.waitlisted": ("候补", "On the waiting list"),
    "app_status.cancelled": ("已取消", "Cancelled"),
    "app_status.enrolled": ("在读", "Enrolled"),
    "app_status.withdrawn": ("已退出", "Withdrawn"),
    "rule.application_exists": (
        "该孩子已有此项目的申请。",
        "The child already has an application for this programme.",
    ),
    "rule.start_outside_term": ("开始日期不在学期内。", "The start date is outside the term."),
    "rule.programme_of_other_school": (
        "该项目不属于孩子所在学校。",
        "The programme is at another school.",
    ),
    "rule.other": (
        "申请未能提交，请联系学校。",
        "The application could not be accepted; please contact the school.",
    ),
    # WTForms' own messages, under their English text
    "wtforms:This field is required.": ("此项必填。", "This field is required."),
    "wtforms:Not a valid date value.": ("日期格式不正确。", "Not a valid date."),
    "wtforms:Not a valid integer value.": ("请输入整数。", "Not a whole number."),
    "wtforms:Field cannot be longer than %(max)d characters.": (
        "不能超过 %(max)d 个字符。",
        "No more than %(max)d characters.",
    ),
}

MESSAGES.update(DASHBOARD_MESSAGES)  # the staff dashboard's strings (.dashboard_messages)
# The names of audit rules, severities and claim states are the documents' own: one wording
# on the dashboard, in the audit report and in every PDF.
MESSAGES.update(
    {
        key: pair
        for key, pair in DOCUMENT_CATALOGUE.items()
        if key.startswith(("audit_rule.", "severity.", "claim_status."))
    }
)

_RULES = frozenset(k.removeprefix("rule.") for k in MESSAGES if k.startswith("rule."))


def translate(key: str, lang: str, default: Any = _MISSING, **values: Any) -> str:
    """The message ``key`` in ``lang`` with ``values`` filled in.

    An unknown key is an error (a typo must not show up as a raw key on a
    page) unless the caller gives a ``default`` — used for values that are
    sometimes codes and sometimes free text, such as a waiver's reason.
    """
    pair = MESSAGES.get(key)
    if pair is None:
        if default is _MISSING:
            raise KeyError(f"no portal message {key!r}")
        return str(default)
    text = pair[1] if lang == "en" else pair[0]
    return text.format(**values) if values else text


def rule_key(code: str) -> str:
    """The message key for a domain rule's code, so refusals read in the page's language."""
    return f"rule.{code}" if code in _RULES and code != "other" else "rule.other"
