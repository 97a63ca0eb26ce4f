"""Usage: records of what the product's customers used, kept until reported to Stripe's meters."""
