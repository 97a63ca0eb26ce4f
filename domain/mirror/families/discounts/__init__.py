"""Discounts and what they are shown with: coupons (names and terms), promotion codes (the
code redeemed) and the discounts themselves (customer.discount.*), three families joined
only when the read API answers (see `discounts.py`)."""

from __future__ import annotations

from domain.mirror.families.discounts import coupons, discounts, promotion_codes

COUPONS = coupons.FAMILY
PROMOTION_CODES = promotion_codes.FAMILY
DISCOUNTS = discounts.FAMILY

__all__ = ["COUPONS", "DISCOUNTS", "PROMOTION_CODES", "coupons", "discounts", "promotion_codes"]
