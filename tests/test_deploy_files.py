"""Procfile and docker-compose.yml name real `billing` commands, and agree with each other."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from workers.cli import cli

ROOT = Path(__file__).resolve().parents[1]
# Procfile process -> compose service running the same thing.
SAME_PROCESS = {"release": "migrate", "web": "web", "worker": "worker", "sweeper": "sweeper"}


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def compose_commands() -> dict[str, str]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {name: svc["command"] for name, svc in doc["services"].items() if "command" in svc}


def argv(command: str) -> list[str]:
    # Expand ${VAR:-default} the way a shell would when VAR is unset.
    return shlex.split(re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", command))


def assert_real_billing_command(command: str) -> None:
    args = argv(command)
    assert args[0] == "billing", command
    # --help is eager, so this parses every option (unknown ones fail) but runs nothing.
    result = CliRunner().invoke(cli, [*args[1:], "--help"])
    assert result.exit_code == 0, f"{command!r}: {result.output}"


def test_procfile_and_compose_name_real_commands() -> None:
    commands = [*procfile().values(), *compose_commands().values()]
    assert len(commands) >= 8
    for command in commands:
        assert_real_billing_command(command)


def test_procfile_and_compose_agree() -> None:
    proc, compose = procfile(), compose_commands()
    assert set(proc) == set(SAME_PROCESS)
    for process, service in SAME_PROCESS.items():
        assert argv(proc[process])[:2] == argv(compose[service])[:2]
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"postgres", "redis", "migrate", "web", "worker", "sweeper"} <= set(doc["services"])


def test_a_wrong_command_would_be_caught() -> None:
    with pytest.raises(AssertionError):
        assert_real_billing_command("billing serve --no-such-flag")
    with pytest.raises(AssertionError):
        assert_real_billing_command("billing frobnicate")
