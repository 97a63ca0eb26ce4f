"""The dispatch tables agree with what they dispatch: events with the families, commands
with their parameter models, command results with the event registry (no database)."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from domain.commands.params import PARAMS
from domain.mirror.families import FAMILIES, REGISTRY, build_registry
from domain.mirror.families import invoices as invoice_family
from domain.mirror.outbox import KIND_LENGTH
from domain.mirror.statuses import NotificationKind
from workers.commands import executors

COMMANDS_DIR = Path(executors.__file__).parent


def test_every_registered_event_type_comes_from_exactly_one_family() -> None:
    declared = [t for family in FAMILIES for t in family.event_types]
    assert len(declared) == len(set(declared))
    assert set(REGISTRY) == set(declared)
    for family in FAMILIES:
        for event_type in family.event_types:
            registration = REGISTRY[event_type]
            assert registration.handler == family.apply, event_type
            assert registration.targets == family.targets, event_type


def test_two_families_cannot_claim_one_event_type() -> None:
    with pytest.raises(ValueError, match=r"invoice\.created is declared by two families"):
        build_registry([invoice_family.FAMILY, invoice_family.FAMILY])


def test_family_names_are_unique_url_segments() -> None:
    names = [family.name for family in FAMILIES]
    assert len(names) == len(set(names))
    assert all(name.replace("-", "").isalpha() and name.islower() for name in names)


def test_every_command_type_has_an_executor_and_vice_versa() -> None:
    assert set(executors.EXECUTORS) == set(PARAMS)


@pytest.mark.parametrize("command_type", sorted(PARAMS))
def test_each_executor_takes_its_command_types_parameters(command_type: str) -> None:
    executor = executors.EXECUTORS[command_type]
    hints = typing.get_type_hints(executor)
    params = [v for k, v in hints.items() if k not in ("ctx", "return")]
    assert params == [PARAMS[command_type]], executor.__qualname__


def _mirror_write_types() -> set[str]:
    found: set[str] = set()
    for path in COMMANDS_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "MirrorWrite"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(str(node.args[0].value))
    return found


def test_command_results_go_through_registered_event_handlers() -> None:
    written = _mirror_write_types()
    assert written  # the scan finds the executors' mirror writes
    assert written <= set(REGISTRY)


def test_notification_kinds_are_declared_once_across_families() -> None:
    kinds = [str(kind) for family in FAMILIES for kind in family.kinds]
    assert len(kinds) == len(set(kinds))
    assert all(len(kind) <= KIND_LENGTH for kind in kinds)
    assert set(NotificationKind) <= set(kinds)  # every kind of the first families is emitted
