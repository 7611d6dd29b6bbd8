"""Runs the functions `make sam-build` built, as built (`make test-artifacts`).

    python -m tools.artifacts [--build-dir .aws-sam/build] [--qemu qemu-aarch64-static]
                              [--sysroot /usr/aarch64-linux-gnu]

Each function's `bootstrap` (every function of template.yaml) runs under
qemu-aarch64 with the environment template.yaml gives it (token keys: a
fresh ES256 public key as JwtPublicKeyPem) plus Lambda's own variables and
stand-ins for where AWS is: moto (AWS_ENDPOINT_URL), and the harness's
Lambda Invoke API (AWS_ENDPOINT_URL_LAMBDA, lambda_api.py: a restore
invokes the reseal function through it), which also takes EventBridge's
place (AWS_ENDPOINT_URL_EVENTBRIDGE) to refuse and report any call: the
scenario hands the publish function no change. Nothing comes from this
shell. Each must start and answer its requests (scenario.py; the reseal
function, the update function's invoke; the publish function, a stream's
batch); each that serves API or Invoke requests must print its metric
records under the function name Lambda gave it. Logs:
.local/artifacts/<LogicalId>.log.
Everything started is stopped however the run ends.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from tools import ROOT
from tools.artifacts.environment import Resolver, Sandbox, TemplateError, deployed_environment, functions
from tools.artifacts.functions import Function, FunctionFailed, inspect_binary
from tools.artifacts.lambda_api import LambdaApi
from tools.artifacts.runtime_api import RuntimeApi
from tools.artifacts.scenario import Scenario
from tools.artifacts.signing import Signer, new_key, public_key_pem
from tools.checks.template import TEMPLATE, load_sam
from tools.local_stack.devstack import (
    AUDIT_TABLE,
    KEY_ALIAS,
    MAC_KEY_ALIAS,
    REGION,
    TABLE,
    aws_env,
    bootstrap,
    start_moto,
)
from tools.local_stack.iam import LocalIam
from tools.local_stack.processes import Stack, exit_code, free_port
from tools.local_stack.tokens import ISSUER, LOCAL

STACK_NAME = "cortex-secrets"
# AutoPublishAlias: API Gateway invokes the alias, which names a version.
ALIAS, VERSION = "live", "1"
# Lambda allows an on-demand init 10 s; qemu emulates every instruction,
# and runs them all side by side on however few cores there are.
START_TIMEOUT_S = 60
EMF_SETTLE_S = 5


def log(message: str) -> None:
    print(f"[artifacts] {message}", file=sys.stderr, flush=True)


def key_arns(moto_port: int) -> tuple[str, str]:
    """The ARNs of the two keys bootstrap() made: the template names the
    keys by ARN (Fn::GetAtt), not by alias."""
    import boto3

    kms = boto3.client(
        "kms",
        endpoint_url=aws_env(moto_port)["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    data_key, mac_key = (kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"] for alias in (KEY_ALIAS, MAC_KEY_ALIAS))
    return data_key, mac_key


def resolver_for(sam: dict[str, Any], moto_port: int, token_key_pem: str) -> Resolver:
    """CloudFormation's values for a stack on the emulator: the tables and
    keys bootstrap() made, the issuer's parameters; every other parameter
    at its default, every log group at a made-up name."""
    data_key, mac_key = key_arns(moto_port)
    account = data_key.split(":")[4]
    resources = {
        name: f"{STACK_NAME}-{name}-local"
        for name, resource in sam["Resources"].items()
        if resource.get("Type") == "AWS::Logs::LogGroup"
    }
    # A function's Ref is its name; SAM's `<function>.Alias`, its alias's
    # ARN (the update function names the reseal function's).
    for name in functions(sam):
        resources[name] = f"{STACK_NAME}-{name}-local"
        resources[f"{name}.Alias"] = f"arn:aws:lambda:{REGION}:{account}:function:{STACK_NAME}-{name}-local:{ALIAS}"
    resources |= {"SecretsTable": TABLE, "AuditTable": AUDIT_TABLE, "SecretsKeyAlias": KEY_ALIAS}
    return Resolver(
        sam,
        parameters={"JwtIssuer": ISSUER, "JwtPublicKeyPem": token_key_pem},
        resources=resources,
        attributes={("SecretsKey", "Arn"): data_key, ("IdempotencyKey", "Arn"): mac_key},
        pseudo={"AWS::Region": REGION, "AWS::AccountId": account, "AWS::StackName": STACK_NAME},
    )


def start_functions(
    stack: Stack,
    apis: list[RuntimeApi],
    args: argparse.Namespace,
    sam: dict[str, Any],
    resolver: Resolver,
    moto_port: int,
    lambda_endpoint: str,
) -> dict[str, Function]:
    moto = aws_env(moto_port)
    account = resolver.pseudo["AWS::AccountId"]
    started = {}
    logs = LOCAL / "artifacts"
    logs.mkdir(parents=True, exist_ok=True)
    for logical_id, properties in sorted(functions(sam).items()):
        binary = inspect_binary(args.build_dir / logical_id / resolver.text(resolver.value(properties["Handler"])))
        log(f"{logical_id}: arm64, {binary.linking}")
        # CloudFormation's name for an unnamed function: stack, logical id, suffix.
        name = f"{STACK_NAME}-{logical_id}-local"
        timeout_s = float(resolver.text(resolver.value(properties["Timeout"])))
        api = RuntimeApi(f"arn:aws:lambda:{REGION}:{account}:function:{name}:{ALIAS}", timeout_s)
        api.start()
        apis.append(api)
        sandbox = Sandbox(
            function_name=name,
            version=VERSION,
            region=REGION,
            runtime_api=api.address,
            access_key_id=moto["AWS_ACCESS_KEY_ID"],
            secret_access_key=moto["AWS_SECRET_ACCESS_KEY"],
            session_token="local",
        )
        # The variables that are not the deployment's: where AWS is.
        endpoints = {
            "AWS_ENDPOINT_URL": moto["AWS_ENDPOINT_URL"],
            "AWS_ENDPOINT_URL_LAMBDA": lambda_endpoint,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": lambda_endpoint,
        }
        try:
            env = deployed_environment(properties, resolver, sandbox, endpoints)
        except TemplateError as error:
            raise TemplateError(f"{logical_id}'s environment: {error}") from error
        function = Function(logical_id, name, api, logs / f"{logical_id}.log", timeout_s)
        function.start(stack, binary, env, args.qemu, args.sysroot)
        started[logical_id] = function
    for function in started.values():
        log(f"{function.logical_id}: polled for its first event after {function.wait_started(START_TIMEOUT_S):.1f} s")
    return started


def check_metric_records(started: dict[str, Function], served: set[str], metered: set[str]) -> None:
    """Every function served a request; each of `metered` (those behind the
    API or Lambda's Invoke API, whose records count their AWS calls)
    printed an EMF record under the name Lambda gave it. Records may still
    be on their way to the log."""
    deadline = time.monotonic() + EMF_SETTLE_S
    while True:
        missing = [
            function.logical_id
            for function in started.values()
            if function.logical_id in metered
            and not any(record.get("FunctionName") == function.name for record in function.metric_records())
        ]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert served == set(started), f"functions the scenario never reached: {', '.join(sorted(set(started) - served))}"
    assert not missing, f"no EMF record with FunctionName = AWS_LAMBDA_FUNCTION_NAME from: {', '.join(missing)}"


def run(args: argparse.Namespace, stack: Stack, apis: list[RuntimeApi], lambda_api: LambdaApi) -> None:
    sam = load_sam(args.template)
    moto_port = free_port()
    start_moto(stack, moto_port)
    bootstrap(moto_port)
    key = new_key()
    resolver = resolver_for(sam, moto_port, public_key_pem(key))
    # Tokens for the audience the template asks for by default.
    signer = Signer(key, ISSUER, resolver.text(resolver.ref("JwtAudience")))
    lambda_api.start()
    started = start_functions(stack, apis, args, sam, resolver, moto_port, lambda_api.endpoint)
    lambda_api.functions = {function.name: function for function in started.values()}
    lambda_api.place = (REGION, resolver.pseudo["AWS::AccountId"])
    iam = LocalIam(resolver.pseudo["AWS::AccountId"], REGION, "local", ALIAS, {})
    account = resolver.pseudo["AWS::AccountId"]
    # As DynamoDB names a stream: its table's ARN, /stream/, its label.
    stream_arn = f"arn:aws:dynamodb:{REGION}:{account}:table/{AUDIT_TABLE}/stream/2026-01-01T00:00:00.000"
    scenario = Scenario(
        lambda logical_id, event: started[logical_id].invoke(event), functions(sam), signer, iam, stream_arn
    )
    try:
        scenario.run()
    finally:
        # A function invoked through Lambda that crashed says why first.
        if lambda_api.failures:
            raise lambda_api.failures[0]
    assert not lambda_api.strays, f"calls no function should have made: {', '.join(lambda_api.strays)}"
    metered = scenario.served | lambda_api.invoked
    check_metric_records(started, metered | scenario.streamed, metered)
    log(f"all {len(started)} functions started and answered as deployed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=ROOT / ".aws-sam" / "build")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--qemu", default="qemu-aarch64-static")
    parser.add_argument("--sysroot", default="/usr/aarch64-linux-gnu")
    args = parser.parse_args()
    stack = Stack()
    # Stopped after the functions: a poll still open would hold them up.
    apis: list[RuntimeApi] = []
    lambda_api = LambdaApi(ALIAS, VERSION)
    failures = (AssertionError, FunctionFailed, TemplateError, RuntimeError, OSError)
    try:
        return exit_code(lambda: run(args, stack, apis, lambda_api), failures, log)
    finally:
        stack.stop()
        for api in apis:
            api.stop()
        lambda_api.stop()


if __name__ == "__main__":
    sys.exit(main())
