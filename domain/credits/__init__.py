"""Credits: the ledger, its balance rows, the gate's rules and the period allowance."""

from domain.credits.tables import BALANCES, ENTRIES, CreditBalance, CreditEntry

__all__ = ["BALANCES", "ENTRIES", "CreditBalance", "CreditEntry"]
