"""The after-school domain: calendars, fee standards, cost sharing, enrolment and billing.

Builds on ``ledger.books`` (which knows nothing of schools) and ``ledger.money``.
"""
