"""Audit and reconciliation: rules that check the stored data, bank statement import and
matching, reconciliation reports and exports. The rules only read."""
