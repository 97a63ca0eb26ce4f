"""`billing dev`: the whole service on the embedded default, with no external server."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import orjson

# The development token may do everything: the product's calls and on-call's.
DEV_SCOPES = "commands+read+ops+usage"


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets generated once per data directory, so they survive a restart."""
    path = data_dir / "dev-secrets.json"
    if path.exists():
        return orjson.loads(path.read_bytes())  # type: ignore[no-any-return]
    values = {
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "api_token": secrets.token_urlsafe(24),
    }
    path.write_bytes(orjson.dumps(values, option=orjson.OPT_INDENT_2))
    path.chmod(0o600)
    return values


def embedded_environment(data_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The environment for the embedded default, and the generated secrets it uses."""
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = dev_secrets(data_dir)
    env = dict(os.environ)
    for external in ("DATABASE_URL", "BROKER_URL"):
        env.pop(external, None)
    env["BILLING_DATA_DIR"] = str(data_dir.resolve())
    env.setdefault("STRIPE_WEBHOOK_SECRETS", generated["webhook_secret"])
    env.setdefault("API_TOKENS", f"dev:{generated['api_token']}:{DEV_SCOPES}")
    env.setdefault("SWEEPER_INTERVAL_SECONDS", "1")
    env.setdefault("SWEEPER_GRACE_SECONDS", "10")
    env.setdefault("RETRY_BASE_SECONDS", "2")
    return env, generated


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """Start `billing <args>` as a child process."""
    return subprocess.Popen([sys.executable, "-m", "workers.cli", *args], env=env)


def stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
