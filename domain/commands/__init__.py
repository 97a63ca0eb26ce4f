"""Outbound billing commands: the table, their typed parameters and the lifecycle SQL."""

from domain.commands import models

__all__ = ["models"]
