"""Reporting usage records to Stripe Billing Meters, and reconciling what Stripe counted."""
