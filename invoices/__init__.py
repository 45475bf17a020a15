"""Documents: Jinja HTML + CSS templates rendered to PDF by WeasyPrint, their numbering
and their archive. Depends on ``ledger``; nothing in ``ledger`` depends on it."""
