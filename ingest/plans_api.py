"""GET /v1/plans: the plan catalog the product may sell (amounts in minor units)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ingest.auth import require_scope
from ingest.command_models import PlanList
from ingest.openapi import Operation, document
from ingest.responses import ORJSONResponse

document(
    Operation(
        "GET",
        "/v1/plans",
        "The plan catalog: tiers, intervals, amounts in minor units, currency",
        "commands",
        scope="commands",
        responses={200: ("the catalog", PlanList)},
    )
)


@require_scope("commands")
async def list_plans(request: Request) -> Response:
    """Every plan of the configured catalog, in catalog order."""
    catalog = request.app.state.plan_catalog
    return ORJSONResponse(
        {
            "plans": [
                {
                    "tier": p.tier,
                    "interval": p.interval,
                    "amount": p.amount,
                    "currency": p.currency,
                    "price_id": p.price_id,
                    "credits_per_period": p.credits_per_period,
                }
                for p in catalog.plans
            ]
        }
    )
