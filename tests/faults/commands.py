"""A few commands per scenario through the API, and what the fake Stripe must show after."""

from __future__ import annotations

import random
import time
from typing import Any

import httpx
from sqlalchemy import text

from tests.faults.load import Ledger
from tests.faults.result import Result
from tests.faults.rig import COMMANDS_TOKEN, Rig, auth

COMMAND_ACCOUNTS = 2  # customer.ensure + checkout.create each, per scenario


class Commands:
    """A few commands per scenario through the API, and what the fake Stripe must show."""

    def __init__(self, rig: Rig, ledger: Ledger, label: str) -> None:
        self.rig, self.ledger, self.label = rig, ledger, label
        self.ids: list[str] = []
        self.accounts: list[str] = []
        self.checkouts = 0
        self.customers_before = rig.fake.created("customer")
        self.checkouts_before = rig.fake.created("checkout.session")

    def _post(self, client: httpx.Client, body: dict[str, Any], key: str) -> str:
        route = "POST /v1/commands"
        deadline = time.monotonic() + 60
        while True:  # a product service retries with the same key until it gets an answer
            try:
                response = client.post("/v1/commands", json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:
                self.ledger.failed(route, exc)
            else:
                self.ledger.answer(route, response.status_code, response.text)
                if response.status_code in (200, 201, 202):
                    return str(response.json()["id"])
                assert response.status_code in (500, 503), response.text
            assert time.monotonic() < deadline, f"command {key} never accepted"
            time.sleep(0.3)

    def post_all(self, rng: random.Random) -> None:
        with httpx.Client(base_url=self.rig.url, headers=auth(COMMANDS_TOKEN), timeout=10) as c:
            for n in range(COMMAND_ACCOUNTS):
                account = f"acct_cmd_{self.label}_{n}"
                self.accounts.append(account)
                base = {"account_ref": account}
                ensure = {**base, "type": "customer.ensure", "params": {"email": "a@example.com"}}
                checkout = {
                    **base,
                    "type": "checkout.create",
                    "params": {
                        "tier": "pro",
                        "interval": rng.choice(["month", "year"]),
                        "success_url": "https://app.example/ok",
                        "cancel_url": "https://app.example/no",
                    },
                }
                first = self._post(c, ensure, f"{account}-ensure")
                # The same request again (a retry by the product): the same command.
                assert self._post(c, ensure, f"{account}-ensure") == first
                self.ids += [first, self._post(c, checkout, f"{account}-checkout")]
                self.checkouts += 1

    def statuses(self) -> dict[str, str]:
        with self.rig.db.connect() as conn:
            return dict(
                conn.execute(
                    text("SELECT id::text, status FROM commands WHERE id::text = ANY(:ids)"),
                    {"ids": self.ids},
                ).all()
            )

    def finished(self) -> bool:
        statuses = self.statuses()
        return len(statuses) == len(self.ids) and all(
            s in ("succeeded", "failed", "dead") for s in statuses.values()
        )

    def check(self, result: Result) -> None:
        result.commands = len(self.ids)
        statuses = self.statuses()
        bad = {i: s for i, s in statuses.items() if s != "succeeded"}
        if bad or len(statuses) != len(self.ids):
            result.problems.append(f"commands not succeeded: {bad}")
        customers = self.rig.fake.created("customer") - self.customers_before
        checkouts = self.rig.fake.created("checkout.session") - self.checkouts_before
        result.duplicated_effects += max(0, customers - len(self.accounts))
        result.duplicated_effects += max(0, checkouts - self.checkouts)
        if (customers, checkouts) != (len(self.accounts), self.checkouts):
            result.problems.append(
                f"fake Stripe created {customers} customers and {checkouts} checkout sessions,"
                f" want {len(self.accounts)} and {self.checkouts}"
            )
