"""The plan catalog: which Stripe price is which tier and interval (TOML or JSON file), how
many credits each includes per period, and the metered price pay-as-you-go overage is billed
through (`payg_price_id`, with its meter's `event_name` as `meter`)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

UNKNOWN_TIER = "unknown"
INTERVALS = frozenset({"day", "week", "month", "year"})
METER_MAX_LENGTH = 100  # Stripe's limit on a meter's event_name


class CatalogError(ValueError):
    """The catalog file is malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class Plan:
    """One sellable price: tier x interval -> Stripe price id, amount in minor units."""

    tier: str
    interval: str
    price_id: str
    amount: int
    currency: str
    credits_per_period: int = 0  # credits granted at the start of each billing period


@dataclass(frozen=True, slots=True)
class PlanMatch:
    """What a price id means to the product; tier is `unknown` for prices not in the catalog."""

    tier: str
    interval: str | None


@dataclass(frozen=True)
class PlanCatalog:
    """All plans, indexed by price id."""

    plans: tuple[Plan, ...]
    payg_price_id: str | None = None  # the metered price overage is billed through
    meter: str | None = None  # the event_name of that price's meter

    def credits_for(self, price_id: str | None) -> int:
        """Credits a period of this price includes (0 for prices not in the catalog)."""
        plan = self.by_price(price_id)
        return plan.credits_per_period if plan is not None else 0

    @cached_property
    def grants_credits(self) -> bool:
        """Does any plan include credits (else period grants are skipped outright)?"""
        return any(p.credits_per_period > 0 for p in self.plans)

    def by_price(self, price_id: str | None) -> Plan | None:
        """The plan sold under `price_id`, if any."""
        return self._index.get(price_id) if price_id else None

    def lookup(self, price_id: str | None, fallback_interval: str | None = None) -> PlanMatch:
        """Tier and interval for a price; unknown prices keep Stripe's own interval."""
        plan = self.by_price(price_id)
        if plan is None:
            return PlanMatch(UNKNOWN_TIER, fallback_interval)
        return PlanMatch(plan.tier, plan.interval)

    def find(self, tier: str, interval: str) -> Plan | None:
        """The plan for a tier and interval, if sold."""
        return next((p for p in self.plans if p.tier == tier and p.interval == interval), None)

    @cached_property
    def _index(self) -> dict[str, Plan]:
        return {p.price_id: p for p in self.plans}


def parse_catalog(doc: dict[str, Any], source: str = "catalog") -> PlanCatalog:
    """Validate a parsed catalog document (`{"plans": [...]}`)."""
    entries = doc.get("plans")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: needs a non-empty `plans` list")
    plans: list[Plan] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries):
        where = f"{source}: plans[{n}]"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: must be a table")
        try:
            plan = Plan(
                tier=str(entry["tier"]),
                interval=str(entry["interval"]),
                price_id=str(entry["price_id"]),
                amount=entry["amount"],
                currency=str(entry["currency"]).lower(),
                credits_per_period=entry.get("credits_per_period", 0),
            )
        except KeyError as exc:
            raise CatalogError(f"{where}: missing {exc.args[0]!r}") from None
        if plan.interval not in INTERVALS:
            raise CatalogError(f"{where}: interval must be one of {sorted(INTERVALS)}")
        # Money is integer minor units: 9.99 or "999" is a catalog mistake, not a price.
        if isinstance(plan.amount, bool) or not isinstance(plan.amount, int) or plan.amount < 0:
            raise CatalogError(f"{where}: amount must be a non-negative integer (cents)")
        if len(plan.currency) != 3:
            raise CatalogError(f"{where}: currency must be an ISO 4217 code")
        credits = plan.credits_per_period
        if isinstance(credits, bool) or not isinstance(credits, int) or credits < 0:
            raise CatalogError(f"{where}: credits_per_period must be a non-negative integer")
        if plan.price_id in seen:
            raise CatalogError(f"{where}: duplicate price_id {plan.price_id!r}")
        seen.add(plan.price_id)
        plans.append(plan)
    payg_price_id, meter = _payg(doc, source, seen)
    return PlanCatalog(tuple(plans), payg_price_id=payg_price_id, meter=meter)


def _payg(doc: dict[str, Any], source: str, plan_prices: set[str]) -> tuple[str | None, str | None]:
    """The metered price and its meter: both or neither (overage needs both)."""
    price, meter = doc.get("payg_price_id"), doc.get("meter")
    if price is None and meter is None:
        return None, None
    if price is None or meter is None:
        raise CatalogError(f"{source}: payg_price_id and meter go together (give both or neither)")
    if not isinstance(price, str) or not price.strip():
        raise CatalogError(f"{source}: payg_price_id must be a Stripe price id")
    if price in plan_prices:
        raise CatalogError(f"{source}: payg_price_id {price!r} is also a plan's price_id")
    if not isinstance(meter, str) or not meter.strip() or len(meter) > METER_MAX_LENGTH:
        raise CatalogError(
            f"{source}: meter must be the meter's event_name (1 to {METER_MAX_LENGTH} characters)"
        )
    return price, meter


def load_catalog(path: Path | None = None) -> PlanCatalog:
    """Read the catalog from `path` (TOML or JSON), or the bundled example."""
    if path is None:
        data = resources.files("domain").joinpath("plans.toml").read_text("utf-8")
        return parse_catalog(tomllib.loads(data), "bundled plans.toml")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"PLAN_CATALOG {path}: {exc.strerror}") from None
    try:
        doc = orjson.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode())
    except (orjson.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"PLAN_CATALOG {path}: {exc}") from None
    return parse_catalog(doc, str(path))


@cache
def catalog_for(path: Path | None) -> PlanCatalog:
    """The catalog for a configured path, parsed once per process."""
    return load_catalog(path)
