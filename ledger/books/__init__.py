"""The double-entry engine. It knows nothing about schools; it imports only ``ledger.money``."""

from .chain import ChainReport, verify_chain
from .chart import (
    close_account,
    create_account,
    create_accounts_bulk,
    create_book,
    get_account,
    get_book,
)
from .errors import DomainError
from .journal import (
    BulkResult,
    EntryDraft,
    PostingDraft,
    PostResult,
    hold_book,
    post_entries_bulk,
    post_entry,
    reverse_entry,
)
from .models import Account, AccountType, Balance, Book, Entry, EntryKind, Period, Posting
from .periods import close_period, create_period, get_period, list_periods
from .queries import account_balance, balance_mismatches, nets_before, trial_balance

__all__ = [
    "Account",
    "AccountType",
    "Balance",
    "Book",
    "BulkResult",
    "ChainReport",
    "DomainError",
    "Entry",
    "EntryDraft",
    "EntryKind",
    "Period",
    "PostResult",
    "Posting",
    "PostingDraft",
    "account_balance",
    "nets_before",
    "balance_mismatches",
    "close_account",
    "close_period",
    "create_account",
    "create_accounts_bulk",
    "create_book",
    "create_period",
    "get_account",
    "get_book",
    "get_period",
    "hold_book",
    "list_periods",
    "post_entries_bulk",
    "post_entry",
    "reverse_entry",
    "trial_balance",
    "verify_chain",
]
