"""HTTP edge: webhook endpoint, health, and (later) command, read and ops APIs."""
