# ruff: noqa: E501
"""Who may do what: one row per route, one column per caller — :data:`MATRIX` for the JSON
API, :data:`PORTAL` for the parent portal's pages.

``tests/test_access_matrix.py`` calls every route of the app's URL map as every
caller below and fails, listing every difference at once, when an answer is
not what a table says — or when a route has no row, or a row no route.

Paths are below ``/api/v1``. Every path names something of **household A at
school X** (its invoice, charge, payment, student, enrolment …), of school X
itself or its book, or of district D, to which both schools belong
(``tests/access_world.py`` builds that world):

======  ==============================================================
anon    no token
par_A   a parent of household A (child 甲 at school X)
par_B   a parent of household B (child 乙 at school Y)
fin_X   finance of school X
fin_Y   finance of school Y, in the same district D as school X
fin_D   finance of district D (so of both its schools, X and Y)
audit   an auditor
admin   an admin
teach   a teacher of school X, linked to staff member 王老师 of school X
        (the staff member every ``<staff_id>`` names)
======  ==============================================================

A cell is what that caller gets:

======  ==============================================================
ok      allowed. A read (GET) answers 2xx. A write (POST) gets past
        authorization and scope: it answers 2xx, or refuses the
        request's content by a rule (400, 409 or 422) — the world's
        state decides which (an invoice already paid, a period
        already closed); nothing outside 401/403/404 is a refusal of
        *who* asks. Writes are sent with a valid body and rolled back.
401     no (valid) bearer token
403     the role may never use this route
404     the role may use the route, but not on this thing: it is
        outside the caller's scope, and answers as if it did not exist
======  ==============================================================

Both schools are in one district, so that finance of school Y is as close to
school X as a school's finance gets. Households and the vendor whitelist
belong to a district: finance of any of its schools may read household A's
record, register a child of it, and see its invoices, payments and statement
*at their own schools only*; they may read the whitelist, add to it and
suspend a vendor on it. The district's roll-up, audit and coverage reports,
which show every school of the district, are open only to finance who work on
all of its schools (fin_D), as the portal's dashboard is; finance of one
school get 404. A caller never reads, in any
answer, the names or invoice numbers of the household or school it may not
see (checked on every call).
"""

from __future__ import annotations

import re

#: Column headers, in order, as the world's callers are named.
COLUMNS = ("anon", "par_A", "par_B", "fin_X", "fin_Y", "fin_D", "audit", "admin", "teach")
#: The role of each column's caller.
ROLE_OF = {
    "anon": None,
    "par_A": "parent",
    "par_B": "parent",
    "fin_X": "finance",
    "fin_Y": "finance",
    "fin_D": "finance",
    "audit": "auditor",
    "admin": "admin",
    "teach": "teacher",
}
CELLS = {"ok", "401", "403", "404"}
PREFIX = "/api/v1"

MATRIX = """
method  rule (below /api/v1)                                          anon  par_A par_B fin_X fin_Y fin_D audit admin teach

# --- who is calling; users, tokens and links (admins); the audit log
GET     /me                                                           401   ok    ok    ok    ok    ok    ok    ok    ok
GET     /users                                                        401   403   403   403   403   403   403   ok    403
POST    /users                                                        401   403   403   403   403   403   403   ok    403
POST    /users/<int:user_id>/tokens                                   401   403   403   403   403   403   403   ok    403
POST    /users/<int:user_id>/revoke                                   401   403   403   403   403   403   403   ok    403
GET     /users/<int:user_id>/links                                    401   403   403   403   403   403   403   ok    403
POST    /users/<int:user_id>/links                                    401   403   403   403   403   403   403   ok    403
POST    /users/<int:user_id>/links/remove                             401   403   403   403   403   403   403   ok    403
POST    /users/<int:user_id>/portal-login                             401   403   403   403   403   403   403   ok    403
GET     /audit-log                                                    401   403   403   403   403   403   ok    ok    403

# --- districts and schools (admins create them; staff read those in scope)
GET     /districts                                                    401   403   403   ok    ok    ok    ok    ok    403
POST    /districts                                                    401   403   403   403   403   403   403   ok    403
GET     /districts/<district>/rollup                                  401   403   403   404   404   ok    ok    ok    403
GET     /schools                                                      401   403   403   ok    ok    ok    ok    ok    403
POST    /schools                                                      401   403   403   403   403   403   403   ok    403
GET     /schools/<school>                                             401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/terms                                       401   403   403   ok    404   ok    ok    ok    403
POST    /schools/<school>/terms                                       401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/terms/<int:term_id>/calendar                401   403   403   ok    404   ok    ok    ok    403
POST    /schools/<school>/terms/<int:term_id>/calendar                401   403   403   ok    404   ok    403   403   403

# --- households and students: a household is the district's; a student the school's
POST    /households                                                   401   403   403   ok    ok    ok    403   ok    403
GET     /households/<int:household_id>                                401   ok    404   ok    ok    ok    ok    ok    403
GET     /households/<int:household_id>/invoices                       401   ok    404   ok    ok    ok    ok    ok    403
GET     /households/<int:household_id>/payments                       401   ok    404   ok    ok    ok    ok    ok    403
GET     /households/<int:household_id>/statement                      401   ok    404   ok    ok    ok    ok    ok    403
GET     /households/<int:household_id>/statement.pdf                  401   ok    404   ok    404   ok    ok    ok    403
GET     /schools/<school>/students                                    401   403   403   ok    404   ok    ok    ok    403
POST    /schools/<school>/students                                    401   403   403   ok    404   ok    403   403   403
POST    /students/<int:student_id>/hardship                           401   403   403   ok    404   ok    403   403   403

# --- fee standards and cost-sharing policies (the body names school X)
GET     /fee-standards                                                401   ok    ok    ok    ok    ok    ok    ok    403
POST    /fee-standards                                                401   403   403   ok    404   ok    403   403   403
POST    /cost-policies                                                401   403   403   ok    404   ok    403   403   403

# --- programmes, applications (parents apply for their own children), enrolments, waivers
GET     /schools/<school>/programmes                                  401   ok    404   ok    404   ok    ok    ok    403
POST    /schools/<school>/programmes                                  401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/compliance                                  401   403   403   ok    404   ok    ok    ok    403
POST    /applications                                                 401   ok    404   ok    404   ok    403   403   403
GET     /applications/<int:application_id>                            401   ok    404   ok    404   ok    ok    ok    403
POST    /applications/<int:application_id>/review                     401   403   403   ok    404   ok    403   403   ok
POST    /applications/<int:application_id>/decide                     401   403   403   ok    404   ok    403   403   403
POST    /programmes/<int:programme_id>/admit                          401   403   403   ok    404   ok    403   403   403
GET     /enrolments/<int:enrolment_id>                                401   ok    404   ok    404   ok    ok    ok    403
POST    /enrolments/<int:enrolment_id>/withdraw                       401   403   403   ok    404   ok    403   403   403
POST    /enrolments/<int:enrolment_id>/absences                       401   ok    404   ok    404   ok    403   403   403
POST    /waivers                                                      401   403   403   ok    404   ok    403   403   403
POST    /waivers/<int:waiver_id>/decide                               401   403   403   ok    404   ok    403   403   403
POST    /waivers/<int:waiver_id>/credit                               401   403   403   ok    404   ok    403   403   403

# --- billing, invoices, payments and what settles them
POST    /schools/<school>/billing-runs                                401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/invoices                                    401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/invoices/<number>                           401   ok    404   ok    404   ok    ok    ok    403
GET     /schools/<school>/invoices/<number>.pdf                       401   ok    404   ok    404   ok    ok    ok    403
POST    /schools/<school>/invoices/<number>/cancel                    401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/invoices/<number>/reissue                   401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/charges/<int:charge_id>/explanation         401   ok    404   ok    404   ok    ok    ok    403
POST    /schools/<school>/payments                                    401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/payments/<int:payment_id>/receipt.pdf       401   ok    404   ok    404   ok    ok    ok    403
POST    /payments/<int:payment_id>/return                             401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/refunds                                     401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/credit-applications                         401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/overdue                                     401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/write-offs                                  401   403   403   ok    404   ok    403   403   403
GET     /write-offs/<int:write_off_id>                                401   403   403   ok    404   ok    ok    ok    403
POST    /write-offs/<int:write_off_id>/decide                         401   403   403   ok    404   ok    403   403   403

# --- closing periods and the year; subsidy claims to the government
POST    /schools/<school>/close-period                                401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/close-year                                  401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/subsidy-claims                              401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/subsidy-claims/<int:claim_id>               401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/subsidy-claims/<int:claim_id>.pdf           401   403   403   ok    404   ok    ok    ok    403
POST    /schools/<school>/subsidy-claims/<int:claim_id>/receipts      401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/subsidy-reconciliation                      401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/terms/<int:term_id>/disclosure.pdf          401   ok    404   ok    404   ok    ok    ok    403

# --- the books of school X: accounts, journal, periods, checks, exports
GET     /books                                                        401   403   403   ok    ok    ok    ok    ok    403
POST    /books                                                        401   403   403   ok    ok    ok    403   403   403
GET     /books/<book>                                                 401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/accounts                                        401   403   403   ok    404   ok    ok    ok    403
POST    /books/<book>/accounts                                        401   403   403   ok    404   ok    403   403   403
GET     /books/<book>/accounts/<code>                                 401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/accounts/<code>/balance                         401   403   403   ok    404   ok    ok    ok    403
POST    /books/<book>/accounts/<code>/close                           401   403   403   ok    404   ok    403   403   403
GET     /books/<book>/entries                                         401   403   403   ok    404   ok    ok    ok    403
POST    /books/<book>/entries                                         401   403   403   ok    404   ok    403   403   403
GET     /books/<book>/entries/<int:entry_id>                          401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/entries/<int:entry_id>/explanation              401   403   403   ok    404   ok    ok    ok    403
POST    /books/<book>/entries/<int:entry_id>/reverse                  401   403   403   ok    404   ok    403   403   403
GET     /books/<book>/periods                                         401   403   403   ok    404   ok    ok    ok    403
POST    /books/<book>/periods                                         401   403   403   ok    404   ok    403   403   403
POST    /books/<book>/periods/<int:period_id>/close                   401   403   403   ok    404   ok    403   403   403
GET     /books/<book>/trial-balance                                   401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/chain                                           401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/exports/journal.csv                             401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/exports/journal.xlsx                            401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/exports/trial-balance.csv                       401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/exports/trial-balance.xlsx                      401   403   403   ok    404   ok    ok    ok    403
GET     /books/<book>/exports/book.beancount                          401   403   403   ok    404   ok    ok    ok    403

# --- money out: staff, rates, hours (a teacher reads their own), pay, tax
GET     /schools/<school>/staff                                       401   403   403   ok    404   ok    ok    ok    403
POST    /schools/<school>/staff                                       401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/pay-rates                                   401   403   403   ok    404   ok    ok    ok    403
POST    /schools/<school>/pay-rates                                   401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/service-hours                               401   403   403   ok    404   ok    ok    ok    ok
POST    /schools/<school>/service-hours                               401   403   403   ok    404   ok    403   403   403
POST    /service-hours/<int:hours_id>/decide                          401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/pay-runs                                    401   403   403   ok    404   ok    403   403   403
GET     /staff/<int:staff_id>/payout-sheet                            401   403   403   ok    404   ok    ok    ok    ok
GET     /staff/<int:staff_id>/payout-sheet.pdf                        401   403   403   ok    404   ok    ok    ok    ok
GET     /schools/<school>/tax-withheld                                401   403   403   ok    404   ok    ok    ok    403

# --- vendors (the district's whitelist), agreements, bills, payouts, fund use
GET     /districts/<district>/vendors                                 401   403   403   ok    ok    ok    ok    ok    403
POST    /districts/<district>/vendors                                 401   403   403   ok    ok    ok    403   403   403
POST    /vendors/<int:vendor_id>/status                               401   403   403   ok    ok    ok    403   403   403
GET     /schools/<school>/purchase-agreements                         401   403   403   ok    404   ok    ok    ok    403
POST    /schools/<school>/purchase-agreements                         401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/vendor-bills                                401   403   403   ok    404   ok    403   403   403
POST    /schools/<school>/payout-batches                              401   403   403   ok    404   ok    403   403   403
GET     /payout-batches/<int:batch_id>                                401   403   403   ok    404   ok    ok    ok    403
POST    /payout-batches/<int:batch_id>/pay                            401   403   403   ok    404   ok    403   403   403
POST    /payout-batches/<int:batch_id>/cancel                         401   403   403   ok    404   ok    403   403   403
GET     /payout-batches/<int:batch_id>/payroll.csv                    401   403   403   ok    404   ok    ok    ok    403
GET     /payout-batches/<int:batch_id>/remittance/<int:vendor_id>.pdf 401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/fund-use                                    401   403   403   ok    404   ok    ok    ok    403

# --- reports to the education bureau; audit runs (finance answers findings, auditors write nothing)
GET     /schools/<school>/terms/<int:term_id>/coverage                401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/terms/<int:term_id>/coverage.csv            401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/terms/<int:term_id>/coverage.pdf            401   403   403   ok    404   ok    ok    ok    403
GET     /districts/<district>/coverage                                401   403   403   404   404   ok    ok    ok    403
GET     /audit-rules                                                  401   403   403   ok    ok    ok    ok    ok    403
GET     /schools/<school>/audit                                       401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/audit.csv                                   401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/audit.pdf                                   401   403   403   ok    404   ok    ok    ok    403
GET     /districts/<district>/audit                                   401   403   403   404   404   ok    ok    ok    403
GET     /districts/<district>/audit.csv                               401   403   403   404   404   ok    ok    ok    403
GET     /districts/<district>/audit.pdf                               401   403   403   404   404   ok    ok    ok    403
POST    /audit-acknowledgements                                       401   403   403   ok    404   ok    403   403   403

# --- bank statements and matching, reconciliations
POST    /schools/<school>/bank-statements                             401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/bank-statements/<int:statement_id>          401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/bank-lines                                  401   403   403   ok    404   ok    ok    ok    403
POST    /bank-lines/<int:line_id>/assign                              401   403   403   ok    404   ok    403   403   403
POST    /bank-lines/<int:line_id>/ignore                              401   403   403   ok    404   ok    403   403   403
GET     /schools/<school>/receivables-aging                           401   403   403   ok    404   ok    ok    ok    403
GET     /schools/<school>/bank-reconciliation                         401   403   403   ok    404   ok    ok    ok    403

# --- queued batch jobs (a billing run of school X)
GET     /jobs/<job_id>                                                401   403   403   ok    404   ok    ok    ok    403
"""


#: The parent portal (``/portal``): the same callers, signed in with a portal password instead of
#: a token (teachers have no portal login, so ``teach`` is as anonymous as ``anon``). A cell:
#: ``ok`` — the page (2xx), a redirect elsewhere than the login page (the dashboard for staff at
#: ``/``), or, for a form sent, its content refused (400, 409, 422); ``login`` — a redirect to
#: the login page; ``404`` — not for this caller, as if it did not exist. ``<any:chart>`` is one
#: of the dashboard's charts (collection, aging, subsidies, fund-use, findings).
PORTAL = """
method  rule (below /portal)                                          anon  par_A par_B fin_X fin_Y fin_D audit admin teach

# --- logging in and out, and the pages' language: anyone (the form's CSRF token is sent)
GET     /login                                                        ok    ok    ok    ok    ok    ok    ok    ok    ok
POST    /login                                                        ok    ok    ok    ok    ok    ok    ok    ok    ok
POST    /logout                                                       login login login login login login login login login
POST    /language                                                     ok    ok    ok    ok    ok    ok    ok    ok    ok

# --- a parent's own households (staff have the dashboard instead: 404 here)
GET     /                                                             login ok    ok    ok    ok    ok    ok    ok    login
GET     /households/<int:household_id>                                login ok    404   404   404   404   404   404   login
GET     /households/<int:household_id>/invoices                       login ok    404   404   404   404   404   404   login
GET     /households/<int:household_id>/statement                      login ok    404   404   404   404   404   404   login
GET     /households/<int:household_id>/applications                   login ok    404   404   404   404   404   404   login
POST    /households/<int:household_id>/applications                   login ok    404   404   404   404   404   404   login
GET     /invoices/<school>/<number>                                   login ok    404   404   404   404   404   404   login
GET     /invoices/<school>/<number>.pdf                               login ok    404   404   404   404   404   404   login
GET     /charges/<int:charge_id>                                      login ok    404   404   404   404   404   404   login

# --- the dashboard: finance, auditors, admins (404 for parents); a district only to those
#     who work on every school of it
GET     /dashboard                                                    login 404   404   ok    ok    ok    ok    ok    login
GET     /dashboard/schools/<code>                                     login 404   404   ok    404   ok    ok    ok    login
GET     /dashboard/schools/<code>/numbers/<any:chart>                 login 404   404   ok    404   ok    ok    ok    login
GET     /dashboard/schools/<code>/numbers/<any:chart>.csv             login 404   404   ok    404   ok    ok    ok    login
GET     /dashboard/schools/<code>/report.pdf                          login 404   404   ok    404   ok    ok    ok    login
GET     /dashboard/districts/<code>                                   login 404   404   404   404   ok    ok    ok    login
GET     /dashboard/districts/<code>/numbers/<any:chart>               login 404   404   404   404   ok    ok    ok    login
GET     /dashboard/districts/<code>/numbers/<any:chart>.csv           login 404   404   404   404   ok    ok    ok    login
GET     /dashboard/districts/<code>/report.pdf                        login 404   404   404   404   ok    ok    ok    login
"""
PORTAL_CELLS = {"ok", "login", "404"}
PORTAL_PREFIX = "/portal"


def normal(rule: str) -> str:
    """A rule as the tables write it: ``<any("a","b"):chart>`` as ``<any:chart>``."""
    return re.sub(r"<any\([^)]*\):", "<any:", rule)


def parse(
    text: str = MATRIX, prefix: str = PREFIX, cells_allowed: set[str] = CELLS
) -> dict[tuple[str, str], dict[str, str]]:
    """``{(method, full rule): {column: cell}}``; refuses a malformed or repeated row."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#") or words[0] == "method":
            continue
        if len(words) != 2 + len(COLUMNS):
            raise ValueError(f"matrix line {number}: {len(words)} words, not {2 + len(COLUMNS)}")
        method, rule, *cells = words
        bad = [c for c in cells if c not in cells_allowed]
        if bad or not rule.startswith("/"):
            raise ValueError(f"matrix line {number}: unknown cell(s) {bad} or rule {rule!r}")
        key = (method, prefix + rule)
        if key in rows:
            raise ValueError(f"matrix line {number}: {method} {rule} twice")
        rows[key] = dict(zip(COLUMNS, cells, strict=True))
    return rows
