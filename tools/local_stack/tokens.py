"""Tokens for the local stack, from the Rust test kit's minter
(`mint-token`, crates/secrets-testkit): the same code the end-to-end suite
signs its tokens with; never from Python. The HS256 secret is made once per
checkout, readable by its owner only, and never committed."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from tools import ROOT
from tools.local_stack.processes import tool_env

LOCAL = ROOT / ".local"
ISSUER = "https://cortex-secrets.local/issuer"
AUDIENCE = "cortex-secrets"

# `--bin` without `-p`: cargo resolves features for the whole workspace, as
# for the functions' `cargo build --workspace --bins`, so the minter reuses
# that build instead of compiling the AWS SDK once more (`-p` would select
# only the test kit's features).
MINT_TOKEN = ["cargo", "run", "--quiet", "--locked", "--bin", "mint-token", "--"]
SUBJECT = "local-developer"
TOKEN_TTL_S = 3600


def jwt_secret_file() -> Path:
    """The local HS256 secret: random, made once per checkout, never committed."""
    path = LOCAL / "jwt-hs256-secret"
    if not path.exists():
        LOCAL.mkdir(exist_ok=True)
        # Created readable by its owner only, before anything is written.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as secret:
            secret.write(secrets.token_hex(32))
    return path


def jwt_secret() -> str:
    return jwt_secret_file().read_text().strip()


def mint_token_command(tenant: str, permissions: list[str], ttl_s: int = TOKEN_TTL_S) -> list[str]:
    """The minter's command line: without any --permission the token holds none."""
    command = [
        *MINT_TOKEN,
        "--secret-file",
        str(jwt_secret_file()),
        "--issuer",
        ISSUER,
        "--audience",
        AUDIENCE,
        "--subject",
        SUBJECT,
        "--tenant",
        tenant,
    ]
    for permission in permissions:
        command += ["--permission", permission]
    return [*command, "--ttl-secs", str(ttl_s)]


def mint_token(tenant: str, permissions: list[str], ttl_s: int = TOKEN_TTL_S) -> str:
    """A token the local stack's functions accept, as the minter prints it
    (alone on stdout). Its stderr (cargo's errors) goes to ours; the token
    is never part of an error message."""
    result = subprocess.run(
        mint_token_command(tenant, permissions, ttl_s), cwd=ROOT, env=tool_env(), stdout=subprocess.PIPE, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"mint-token failed (exit code {result.returncode})")
    lines = result.stdout.splitlines()
    if len(lines) != 1 or not lines[0].strip():
        raise RuntimeError(f"mint-token printed {len(lines)} lines, not one token")
    return lines[0].strip()
