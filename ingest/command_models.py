"""Request and response bodies of the command API (pydantic: validation and OpenAPI at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from domain.commands.params import PARAMS, Params

AccountRef = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.:\-]+$")]


class _CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_ref: AccountRef


def _body_model(command_type: str, params: type[Params]) -> type[BaseModel]:
    name = "".join(part.title() for part in command_type.replace(".", "_").split("_"))
    model: type[BaseModel] = create_model(
        f"{name}Command",
        __base__=_CommandBody,
        type=(Literal[command_type], ...),  # type: ignore[valid-type,arg-type]
        params=(params, Field(default_factory=dict, validate_default=True)),
    )
    return model


_BODIES = tuple(_body_model(t, p) for t, p in PARAMS.items())


class CommandRequest(RootModel[Any]):
    """`{"type", "account_ref", "params"}`; `type` picks the params schema."""

    root: Annotated[Union[_BODIES], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007


class CommandError(BaseModel):
    """Why a command failed: Stripe's error type, code, decline code and message."""

    type: str | None = None
    code: str | None = None
    decline_code: str | None = None
    param: str | None = None
    message: str | None = None
    http_status: int | None = None
    request_id: str | None = None


class CommandView(BaseModel):
    """A command and its outcome as the product sees it."""

    id: str
    url: str
    type: str
    account_ref: str
    status: Literal["queued", "running", "retrying", "succeeded", "failed", "dead"]
    attempts: int
    params: dict[str, Any]
    result: dict[str, Any] | None = None
    error: CommandError | None = None
    created_at: datetime
    finished_at: datetime | None = None
    next_attempt_at: datetime | None = None


class PlanView(BaseModel):
    """One sellable plan; `amount` is in minor units (cents) of `currency`."""

    tier: str
    interval: str
    amount: int
    currency: str
    price_id: str
    credits_per_period: int = Field(description="credits granted at the start of each period")


class PlanList(BaseModel):
    """The plan catalog."""

    plans: list[PlanView]
