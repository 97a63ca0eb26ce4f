"""`billing dev`: the whole service on the embedded default, with no external server."""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson

# The development token may do everything: the product's calls and on-call's.
DEV_SCOPES = "commands+read+ops+usage"
SECRETS_FILE = "dev-secrets.json"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def read_dev_secrets(data_dir: Path) -> dict[str, str] | None:
    """The secrets `billing dev` generated in `data_dir`, if it ever ran there (never writes)."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        return None
    return orjson.loads(path.read_bytes())  # type: ignore[no-any-return]


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets generated once per data directory, so they survive a restart."""
    existing = read_dev_secrets(data_dir)
    if existing is not None:
        return existing
    values = {
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "api_token": secrets.token_urlsafe(24),
    }
    path = data_dir / SECRETS_FILE
    path.write_bytes(orjson.dumps(values, option=orjson.OPT_INDENT_2))
    path.chmod(0o600)
    return values


def dev_defaults(environ: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """For a command run beside `billing dev` on the embedded default: its secret and token.

    Only when DATABASE_URL is unset (the embedded default) and `billing dev` ran in the data
    directory; variables already set win (the caller applies these with setdefault).
    """
    if environ.get("DATABASE_URL"):
        return {}
    generated = read_dev_secrets(data_dir)
    if generated is None:
        return {}
    return {
        "STRIPE_WEBHOOK_SECRETS": generated["webhook_secret"],
        "API_TOKENS": f"dev:{generated['api_token']}:{DEV_SCOPES}",
    }


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


def port_in_use(host: str, port: int) -> bool:
    """Whether `host:port` cannot be bound (as uvicorn binds it, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A preexec_fn: the child gets SIGTERM when its parent dies, even of a `kill -9`."""

    def arm() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """Start `billing <args>` as a child process that does not outlive this one."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli", *args],
        env=env,
        preexec_fn=_die_with_parent(os.getpid()),
    )


def stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
