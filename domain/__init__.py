"""Billing model: settings, tables, typed Stripe views and pure state transitions."""
