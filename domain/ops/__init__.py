"""Ops on the event log: inspect, replay and audit (SQL here, orchestration in service)."""
