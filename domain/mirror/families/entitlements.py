"""entitlements.active_entitlement_summary.updated -> entitlement_summaries: the features
a customer has now, by lookup key, so the product can gate by feature, not by tier.

The summary is the customer's complete current list (Stripe sends the whole list after
every change), so one row per customer, stamped like any other row: a newer summary
replaces the list, an older one arriving late never brings a removed feature back. Stripe
derives the list from the customer's subscriptions' products: when a subscription ends,
Stripe removes its features and sends a new summary. The mirror shows what Stripe says;
it is not the billing entitlement rule (`domain.mirror.account_status`, with its grace
days), see docs/mirror.md.

The object is the same in both API shapes (entitlements appeared in 2024).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, Table, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Related, RelatedSQL
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import ViewError, child, list_data, opt_str, ref_id
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType

MAX_FEATURES = 500  # far above Stripe's; bounds what one payload can make us store


@dataclass(frozen=True, slots=True)
class SummaryView:
    """A customer's active entitlements, as the sorted, distinct lookup keys of features."""

    customer_id: str
    features: tuple[str, ...]
    has_more: bool  # Stripe said the list continues beyond what the event carries
    raw: dict[str, Any] = field(repr=False)


def _lookup_key(entitlement: dict[str, Any]) -> str | None:
    """The entitlement's lookup key (it repeats its feature's), else the feature's."""
    return opt_str(entitlement.get("lookup_key")) or opt_str(
        child(entitlement, "feature").get("lookup_key")
    )


def parse_summary(obj: dict[str, Any], api_version: str | None = None) -> SummaryView:
    """The summary; it names its customer (there is no id of its own)."""
    customer_id = ref_id(obj.get("customer"))
    if customer_id is None:
        raise ViewError("entitlement summary without a customer")
    entitlements = obj.get("entitlements")
    keys = {k for e in list_data(entitlements) if (k := _lookup_key(e)) is not None}
    return SummaryView(
        customer_id=customer_id,
        features=tuple(sorted(keys))[:MAX_FEATURES],
        has_more=isinstance(entitlements, dict) and entitlements.get("has_more") is True,
        raw=obj,
    )


def summary_refs(view: SummaryView, event: EventEnvelope) -> Refs:
    return Refs(view.customer_id, view.customer_id)


def summary_rank(view: SummaryView, event_type: str) -> int:
    """No state to order by: two summaries of one second are told apart by event id only."""
    return tie_rank(terminal=False, status_rank=0)


def summary_transition(view: SummaryView, incoming: Incoming[None]) -> Row:
    return {
        "id": view.customer_id,
        "stripe_customer_id": view.customer_id,
        "features": list(view.features),
        "has_more": view.has_more,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class EntitlementSummary(Stamped, Base):
    """A customer's active features (lookup keys, sorted), as Stripe last summarised them."""

    __tablename__ = "entitlement_summaries"

    id: Mapped[str] = mapped_column(ID, primary_key=True)  # the customer id
    stripe_customer_id: Mapped[str] = mapped_column(ID)
    features: Mapped[list[str]] = mapped_column(JSONType)
    has_more: Mapped[bool] = mapped_column(Boolean)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


SUMMARIES: Table = EntitlementSummary.__table__  # type: ignore[assignment]


def features_of(session: Session, accounts: Sequence[Any]) -> Mapping[Any, list[str]]:
    """account row id -> its customer's feature lookup keys (one query for all rows)."""
    by_customer = {a.stripe_customer_id: a.id for a in accounts if a.stripe_customer_id}
    if not by_customer:
        return {}
    found = session.execute(
        select(SUMMARIES.c.id, SUMMARIES.c.features).where(SUMMARIES.c.id.in_(by_customer))
    ).all()
    return {by_customer[r.id]: sorted(r.features or []) for r in found}


def _features_queries(customer: ColumnElement[Any]) -> Mapping[str, Select[Any]]:
    return {"summary": select(SUMMARIES.c.features).where(SUMMARIES.c.id == customer)}


def _features_body(found: Mapping[str, Sequence[Any]]) -> list[str] | None:
    rows = found["summary"]
    return sorted(rows[0].features or []) if rows else None


FAMILY = Family(
    name="entitlements",
    object_type="entitlements.active_entitlement_summary",
    event_types=("entitlements.active_entitlement_summary.updated",),
    parse=parse_summary,
    refs=summary_refs,
    rank=summary_rank,
    transition=summary_transition,
    table=SUMMARIES,
    adds={
        "account": {
            "features": Related(
                list[str],
                features_of,
                default=list,
                sql=RelatedSQL(_features_queries, _features_body),
                doc="Lookup keys of the customer's active Stripe entitlement features, sorted"
                " (Stripe's latest entitlement summary; empty before the first).",
            )
        }
    },
)
