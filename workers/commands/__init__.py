"""Command execution: the executors (one module per Stripe object family) and the runner."""
