"""The billing mirror: tables, typed Stripe views, ordering rule, transitions, entitlement."""

from domain.mirror import outbox, tables

__all__ = ["outbox", "tables"]
