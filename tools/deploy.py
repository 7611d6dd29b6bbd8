"""`make deploy [STAGE=staging|prod]`: sam build and sam deploy of one
config environment of samconfig.toml, with the token issuer's settings from
the environment.

    python -m tools.deploy [STAGE] [--built]

`--built` deploys the build already in .aws-sam/build (the pipeline builds
once and deploys that build to every stage) instead of building anew.

A stage's own template parameters live in samconfig.toml
(`[<stage>.deploy.parameters] parameter_overrides`). `sam deploy` replaces,
not merges, those with any `--parameter-overrides` given on its command
line, so this composes one list: the stage's, then the issuer's settings
(JWT_ISSUER, required; JWT_JWKS_URL or JWT_PUBLIC_KEY_PEM; JWT_AUDIENCE;
THROTTLING_RATE_LIMIT, THROTTLING_BURST_LIMIT; PERMISSIONS_BOUNDARY_ARN), then PARAMETER_OVERRIDES
(`Name=value ...`); a later value of a name wins.

Where the build goes and who changes the stack come from the environment
too, as deploy/pipeline.yaml's outputs name them: ARTIFACT_BUCKET (else sam
deploy's own managed bucket, `--resolve-s3`) and CLOUDFORMATION_ROLE_ARN
(else CloudFormation acts with the caller's own credentials).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence

from tools import ROOT

SAMCONFIG = ROOT / "samconfig.toml"
# Environment variable: template parameter.
FROM_ENVIRONMENT = {
    "JWT_ISSUER": "JwtIssuer",
    "JWT_JWKS_URL": "JwtJwksUrl",
    "JWT_PUBLIC_KEY_PEM": "JwtPublicKeyPem",
    "JWT_AUDIENCE": "JwtAudience",
    "THROTTLING_RATE_LIMIT": "ThrottlingRateLimit",
    "THROTTLING_BURST_LIMIT": "ThrottlingBurstLimit",
    # deploy/pipeline.yaml's boundary: its CloudFormation role makes no
    # role without it.
    "PERMISSIONS_BOUNDARY_ARN": "PermissionsBoundaryArn",
}


def stage_overrides(config: Mapping[str, object], stage: str) -> list[str]:
    """The `Name=value` words of a config environment's parameter_overrides."""
    if stage not in config:
        raise ValueError(f"samconfig.toml has no config environment {stage!r}")
    section = config[stage]
    deploy = section.get("deploy", {}).get("parameters", {}) if isinstance(section, dict) else {}
    return shlex.split(str(deploy.get("parameter_overrides", "")))


def overrides(config: Mapping[str, object], stage: str, environ: Mapping[str, str]) -> list[str]:
    """The stage's parameters, then the environment's; the last of a name wins."""
    if not environ.get("JWT_ISSUER"):
        raise ValueError("make deploy needs JWT_ISSUER (and JWT_JWKS_URL or JWT_PUBLIC_KEY_PEM)")
    words = stage_overrides(config, stage)
    words += [f"{parameter}={environ[name]}" for name, parameter in FROM_ENVIRONMENT.items() if environ.get(name)]
    words += shlex.split(environ.get("PARAMETER_OVERRIDES", ""))
    merged: dict[str, str] = {}
    for word in words:
        name, separator, value = word.partition("=")
        if not separator or not name:
            raise ValueError(f"a parameter override must be Name=value, not {word!r}")
        merged[name] = value
    return [f"{name}={value}" for name, value in merged.items()]


def destination(config: Mapping[str, object], stage: str, environ: Mapping[str, str]) -> list[str]:
    """Where sam deploy uploads the build, and the role CloudFormation
    changes the stack with."""
    section = config[stage]
    stack = section.get("global", {}).get("parameters", {}).get("stack_name") if isinstance(section, dict) else None
    bucket = environ.get("ARTIFACT_BUCKET")
    # The pipeline's deploy role may write only under the stack's prefix.
    words = ["--s3-bucket", bucket, "--s3-prefix", str(stack)] if bucket else ["--resolve-s3"]
    if environ.get("CLOUDFORMATION_ROLE_ARN"):
        words += ["--role-arn", environ["CLOUDFORMATION_ROLE_ARN"]]
    return words


def commands(
    stage: str, parameter_overrides: Sequence[str], built: bool = False, destination: Sequence[str] = ()
) -> list[list[str]]:
    build = [] if built else [["sam", "build", "--config-env", stage, "--template", "template.yaml"]]
    deploy = ["sam", "deploy", "--config-env", stage, *destination, "--parameter-overrides", *parameter_overrides]
    return [*build, deploy]


def main(
    argv: Sequence[str],
    environ: Mapping[str, str] = os.environ,
    run: Callable[[list[str]], int] = lambda command: subprocess.run(command, cwd=ROOT).returncode,
) -> int:
    built = "--built" in argv
    stages = [argument for argument in argv if argument != "--built"]
    stage = stages[0] if stages else "default"
    config = tomllib.loads(SAMCONFIG.read_text())
    try:
        composed = overrides(config, stage, environ)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    for command in commands(stage, composed, built, destination(config, stage, environ)):
        code = run(command)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
