"""The billing mirror: tables, typed Stripe views, ordering rule, transitions, entitlement.

Importing it registers every mirror table (the account hub, the outbox and each family's).
"""

from domain.mirror import families, outbox, tables

__all__ = ["families", "outbox", "tables"]
