"""Kehou Ledger's domain: money, the double-entry books, and (later) the school rules.

Nothing in this package imports Flask, marshmallow or WeasyPrint.
"""
