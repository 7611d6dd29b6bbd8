"""The local stack: moto_server standing in for DynamoDB (and its streams),
KMS, EventBridge and SQS, and `cargo lambda watch` serving the six functions
behind their routes, with gateway.py in front of its router for what API
Gateway adds; the audit table's stream read for publish-changes as its event
source mapping would (change_stream.py), and the change events it publishes
shown (event_log.py).

    python -m tools.local_stack.devstack run       serve until Ctrl-C or SIGTERM
    python -m tools.local_stack.devstack token [--tenant T] [--permissions "A B"]
    python -m tools.local_stack.devstack resolve [--tenant T] TAG_OR_ID
                                                  a value, through the resolve route,
                                                  signed as the local platform role
    python -m tools.local_stack.devstack test      fresh stack on free ports, run the
                                                  adapter and end-to-end suites, the
                                                  conformance runs and the README
                                                  session, then check the functions'
                                                  metric records (emf.py)

Tokens are minted by the Rust test kit's `mint-token` (MINT_TOKEN).

Everything started here runs in its own process group and is stopped,
with all its descendants, on exit, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tools import ROOT
from tools.local_stack import change_stream, emf, readme_session
from tools.local_stack.event_log import EventLog
from tools.local_stack.gateway import Gateway, load_routes, load_signed_routes
from tools.local_stack.iam import LocalIam, sign
from tools.local_stack.processes import HOST, VENV_BIN, Stack, free_port, log, port_in_use, tool_env
from tools.local_stack.tokens import AUDIENCE, ISSUER, LOCAL, jwt_secret, mint_token

MOTO_PORT = 5000
API_PORT = 9000
REGION = "us-east-1"
TABLE = "cortex-secrets"
AUDIT_TABLE = "cortex-secrets-audit"
KEY_ALIAS = "alias/cortex-secrets"
MAC_KEY_ALIAS = "alias/cortex-secrets-idempotency"
# The audit table's stream feeds the change events (template.yaml): only it
# has one.
STREAMS = {AUDIT_TABLE: {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}}
# Where the local stack reads the events the functions publish: a rule on
# the default bus taking every event of the service, into a queue.
CHANGES_LOCAL = "cortex-secrets-changes-local"
CHANGES_PATTERN = {"source": ["cortex.secrets"]}
PERMISSION = "CREATE_SECRETS"
DEFAULT_TENANT = "local"
# Compiling every function from scratch on 2 cores takes a few minutes.
READY_TIMEOUT_S = 20 * 60
FUNCTION_INSTANCES = 4
# Path parameters of the routes warmed up before the stack is declared ready.
WARM_UP_PARAMETER = "warm-up"
# The local stand-ins for IAM principals allowed to resolve (gateway shim).
LOCAL_IAM = LOCAL / "iam.json"
LOCAL_ACCOUNT = "000000000000"
RESOLVE_PREFIX = "/internal/v1/tenants"


def local_principals(scoped_tenant: str) -> LocalIam:
    """Writes fresh local principals: `platform` may resolve every tenant's
    secrets, `scoped` only `scoped_tenant`'s: the two policies the README
    gives consumers. Keys are random per start, the file its owner's only."""
    api = LocalIam(LOCAL_ACCOUNT, REGION, "local", "live", {})
    every_tenant = api.method_arn("GET", f"{RESOLVE_PREFIX}/*")
    one_tenant = api.method_arn("GET", f"{RESOLVE_PREFIX}/{scoped_tenant}/*")
    principals = [
        (f"arn:aws:sts::{LOCAL_ACCOUNT}:assumed-role/local-platform/resolver", [every_tenant]),
        (f"arn:aws:sts::{LOCAL_ACCOUNT}:assumed-role/local-{scoped_tenant}-consumer/resolver", [one_tenant]),
    ]
    document = {
        "account": api.account,
        "region": api.region,
        "apiId": api.api_id,
        "stage": api.stage,
        "principals": [
            {
                "accessKeyId": f"AKIALOCAL{secrets.token_hex(6).upper()}",
                "secretAccessKey": secrets.token_urlsafe(30),
                "arn": arn,
                "allow": allow,
            }
            for arn, allow in principals
        ],
    }
    LOCAL.mkdir(exist_ok=True)
    LOCAL_IAM.touch(mode=0o600)
    LOCAL_IAM.write_text(json.dumps(document, indent=2))
    return LocalIam.load(LOCAL_IAM)


def resolve_request(base_url: str, iam: LocalIam, tenant: str, tag_or_id: str) -> urllib.request.Request:
    """GET of a value, signed as the local platform principal."""
    return signed_get(f"{base_url}{RESOLVE_PREFIX}/{tenant}/secrets/{tag_or_id}", iam)


def signed_get(url: str, iam: LocalIam) -> urllib.request.Request:
    """GET of `url`, signed as the local platform principal."""
    platform = next(iter(iam.principals.values()))
    headers = sign("GET", url, platform.access_key_id, platform.secret_access_key, iam.region, utc_now())
    return urllib.request.Request(url, headers=headers)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# --- the stack --------------------------------------------------------------


def aws_env(moto_port: int) -> dict[str, str]:
    """What the SDK (in the functions and the tests) needs to reach moto."""
    return {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{moto_port}",
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def function_env(moto_port: int) -> dict[str, str]:
    return {
        **aws_env(moto_port),
        "TABLE_NAME": TABLE,
        "AUDIT_TABLE_NAME": AUDIT_TABLE,
        "KMS_KEY_ID": KEY_ALIAS,
        "IDEMPOTENCY_MAC_KEY_ID": MAC_KEY_ALIAS,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
        "JWT_HS256_SECRET": jwt_secret(),
        # moto on a laptop can take seconds under load, and it does not honour
        # DynamoDB's idempotency tokens: a retry after a slow but committed
        # write would fail its own conditions. One long attempt instead.
        "SDK_ATTEMPT_TIMEOUT_MS": "9000",
        "SDK_OPERATION_TIMEOUT_MS": "9000",
        "RUST_LOG": os.environ.get("RUST_LOG", "info"),
    }


def start_moto(stack: Stack, port: int) -> None:
    if port_in_use(port):
        sys.exit(f"port {port} is taken: is another `make run` going? (set MOTO_PORT to use another)")
    command = [str(VENV_BIN / "python"), "-m", "tools.local_stack.emulator", HOST, str(port)]
    stack.start("moto (DynamoDB transaction isolation)", command, tool_env(), LOCAL / "moto.log")
    wait_for(f"http://{HOST}:{port}/moto-api/", lambda status: status == 200, timeout_s=60, what="moto_server")


def bootstrap(moto_port: int) -> None:
    """Creates the tables, the keys, and the rule and queue that show the
    change events, if absent: the same shapes as template.yaml."""
    import boto3  # from the venv, installed with moto

    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)
    endpoint = f"http://{HOST}:{moto_port}"
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    existing = set(dynamodb.list_tables()["TableNames"])
    for table in (TABLE, AUDIT_TABLE):
        stream = STREAMS.get(table)
        if table not in existing:
            dynamodb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                **({"StreamSpecification": stream} if stream else {}),
            )
            log(f"created table {table}")
        elif stream and not dynamodb.describe_table(TableName=table)["Table"].get("StreamSpecification"):
            # A table made before it had a stream: given one, as a stack
            # update would.
            dynamodb.update_table(TableName=table, StreamSpecification=stream)
            log(f"enabled the stream of table {table}")
    kms = session.client("kms", endpoint_url=endpoint)
    aliases = {alias["AliasName"] for alias in kms.list_aliases()["Aliases"]}
    if KEY_ALIAS not in aliases:
        key = kms.create_key(Description="cortex-secrets local data key wrapping key")
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key["KeyMetadata"]["KeyId"])
        log(f"created KMS key {KEY_ALIAS}")
    if MAC_KEY_ALIAS not in aliases:
        key = kms.create_key(
            Description="cortex-secrets local idempotency fingerprint key",
            KeySpec="HMAC_256",
            KeyUsage="GENERATE_VERIFY_MAC",
        )
        kms.create_alias(AliasName=MAC_KEY_ALIAS, TargetKeyId=key["KeyMetadata"]["KeyId"])
        log(f"created KMS key {MAC_KEY_ALIAS}")
    # Creating the queue and putting the rule and its target again changes
    # nothing: no need to look first.
    sqs = session.client("sqs", endpoint_url=endpoint)
    events = session.client("events", endpoint_url=endpoint)
    queue_url = sqs.create_queue(QueueName=CHANGES_LOCAL)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(Name=CHANGES_LOCAL, EventPattern=json.dumps(CHANGES_PATTERN), State="ENABLED")["RuleArn"]
    # What AWS needs before the rule can deliver (moto does not check it).
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=CHANGES_LOCAL, Targets=[{"Id": "local-queue", "Arn": queue_arn}])


def gateway_log(api_port: int) -> Path:
    """The gateway shim's log of the stack serving on `api_port`."""
    return LOCAL / f"gateway-{api_port}.log"


# The change events `make run` shows; `make test`'s go to events-<port>.log.
EVENTS_LOG = LOCAL / "events.log"


def start_api(
    stack: Stack,
    moto_port: int,
    api_port: int,
    iam: LocalIam,
    reload: bool,
    events_log: Path,
    events_to_console: bool,
) -> str:
    if port_in_use(api_port):
        sys.exit(f"port {api_port} is taken: is another `make run` going? (set API_PORT to use another)")
    # The router (and its Invoke API) on a port of its own; the gateway shim
    # serves the API on api_port, logging what reaches the functions.
    router_port = free_port()
    env_file = LOCAL / f"functions-{api_port}.env"
    variables = {
        **function_env(moto_port),
        # A restore invokes the reseal function through Lambda's Invoke API,
        # which cargo lambda watch serves for every function it runs.
        "AWS_ENDPOINT_URL_LAMBDA": f"http://{HOST}:{router_port}",
        "RESEAL_FUNCTION_NAME": "reseal-secret",
        # publish-changes's PutEvents go to moto's EventBridge (AWS_ENDPOINT_URL).
        "EVENT_BUS_NAME": "default",
    }
    env_file.write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    env_file.chmod(0o600)
    # Several instances of each function, as Lambda runs under load, so that
    # concurrent requests really overlap.
    command = [
        "cargo",
        "lambda",
        "watch",
        "--invoke-address",
        HOST,
        "--invoke-port",
        str(router_port),
        "--env-file",
        str(env_file),
        "--concurrency",
        str(FUNCTION_INSTANCES),
    ]
    if not reload:
        command.append("--ignore-changes")
    stack.start("cargo lambda watch", command, tool_env(), None if reload else LOCAL / "watch.log")
    # In front of the router: what API Gateway does and the router does not.
    front = Gateway(HOST, api_port, router_port, gateway_log(api_port), iam=iam)
    front.start()
    stack.cleanups.append(front.stop)
    base_url = f"http://{HOST}:{api_port}"
    log("waiting for every function to compile and answer (first run: a few minutes)")
    signed = load_signed_routes()

    for method, template, path in warm_up_routes():
        # A token route answers an anonymous request 401; the signed routes
        # a signed one 404 (tenant and secret `warm-up` do not exist) or,
        # the batch route naming no secret, 400.
        url = f"{base_url}{path}"
        is_signed = (method, template) in signed
        expected = (400 if "{tagOrId}" not in template else 404) if is_signed else 401
        wait_for(
            url,
            answered(expected),
            timeout_s=READY_TIMEOUT_S,
            what=f"{method} {path}",
            method=method,
            request=functools.partial(signed_get, url, iam) if is_signed else None,
        )
    start_change_events(stack, moto_port, router_port, events_log, events_to_console)
    return base_url


def start_change_events(
    stack: Stack, moto_port: int, router_port: int, events_log: Path, events_to_console: bool
) -> None:
    """The change events, as in AWS: the audit table's stream read for
    publish-changes as its event source mapping would (change_stream.py),
    whose PutEvents reach moto's EventBridge; what the local rule takes of
    them is drained from its queue into `events_log` (event_log.py).
    Started once cargo lambda watch serves the functions (publish-changes
    is started on its first invocation)."""
    try:
        mapping = change_stream.load_mapping()
    except (LookupError, ValueError) as error:
        raise RuntimeError(str(error)) from error
    endpoint = f"http://{HOST}:{moto_port}"
    shown = EventLog(endpoint, REGION, CHANGES_LOCAL, events_log, sys.stdout if events_to_console else None)
    shown.start()
    stack.cleanups.append(shown.stop)
    poller = change_stream.ChangeStream(
        endpoint, REGION, AUDIT_TABLE, change_stream.invoke_url(HOST, router_port), mapping
    )
    poller.start()
    stack.cleanups.append(poller.stop)


def answered(expected: int) -> Callable[[int], bool]:
    return lambda status: status == expected


def warm_up_routes() -> list[tuple[str, str, str]]:
    """(method, route, path) of every route of the router table in
    Cargo.toml, its path parameters replaced by `warm-up`: one request
    wakes each function."""
    return [
        (method, path, re.sub(r"\{\w+\}", WARM_UP_PARAMETER, path))
        for path, _, functions in load_routes()
        for method in functions
    ]


def wait_for(
    url: str,
    ready: Callable[[int], bool],
    timeout_s: float,
    what: str,
    method: str = "GET",
    request: Callable[[], urllib.request.Request] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            attempt = request() if request else urllib.request.Request(url, method=method)
            with urllib.request.urlopen(attempt, timeout=30) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError) as error:
            status, last = None, str(error)
        if status is not None:
            if ready(status):
                return
            last = f"HTTP {status}"
        time.sleep(1)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f} s ({last})")


# `--workspace`, not `-p secrets-tests`: features resolve as for `make unit`,
# whose build the suites reuse (a narrower selection compiles the AWS SDK
# again with other features: minutes and gigabytes).
SUITE_COMMAND = ["cargo", "test", "--workspace", "--locked"]


def build_binaries() -> None:
    log("building the functions")
    subprocess.run(["cargo", "build", "--workspace", "--bins", "--locked"], cwd=ROOT, env=tool_env(), check=True)


# --- commands ---------------------------------------------------------------


def command_run(_args: argparse.Namespace) -> int:
    LOCAL.mkdir(exist_ok=True)
    moto_port = int(os.environ.get("MOTO_PORT", MOTO_PORT))
    api_port = int(os.environ.get("API_PORT", API_PORT))
    stack = Stack()
    try:
        build_binaries()
        start_moto(stack, moto_port)
        bootstrap(moto_port)
        base_url = start_api(
            stack,
            moto_port,
            api_port,
            local_principals(DEFAULT_TENANT),
            reload=True,
            events_log=EVENTS_LOG,
            events_to_console=True,
        )
        token = mint_token(DEFAULT_TENANT, [PERMISSION])
        print(
            f"""
The secrets API is up.

  base URL     {base_url}/api/v1/secrets
  AWS (moto)   {aws_env(moto_port)["AWS_ENDPOINT_URL"]} (moto_server: DynamoDB, KMS, EventBridge, SQS)
  token        {token}
               (tenant "{DEFAULT_TENANT}", 1 hour; `make token` prints a fresh one)
  resolve      make resolve TAG=my-secret   (GET {base_url}{RESOLVE_PREFIX}/<tenant>/secrets/<tag>,
               SigV4-signed with a local principal of {LOCAL_IAM.relative_to(ROOT)})
  events       every change publishes one event (tenant, id, tag, operation,
               version, valueVersion, time, requestId): printed here as `event {{...}}`
               lines and appended to {EVENTS_LOG.relative_to(ROOT)}

  curl -s -X POST {base_url}/api/v1/secrets \\
    -H "Authorization: Bearer {token}" \\
    -H 'Content-Type: application/json' \\
    -d '{{"name":"My Secret","secret":"my-secret-password","tag":"my-secret"}}'

Code changes are rebuilt on the fly. Ctrl-C stops everything.
""",
            flush=True,
        )
        while all(process.poll() is None for process in stack.processes):
            time.sleep(0.5)
        log("a process of the stack exited on its own; stopping")
        return 1
    except (subprocess.CalledProcessError, RuntimeError) as error:
        log(f"failed: {error}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def token_permissions(argument: str | None) -> list[str]:
    """`make token`'s PERMISSIONS: unset, the one the functions require;
    otherwise a space-separated list, empty for none."""
    return [PERMISSION] if argument is None else argument.split()


def command_token(args: argparse.Namespace) -> int:
    try:
        token = mint_token(args.tenant, token_permissions(args.permissions))
    except RuntimeError as error:
        log(f"failed: {error}")
        return 1
    print(token)
    return 0


def command_resolve(args: argparse.Namespace) -> int:
    """What a trusted internal system does: a SigV4-signed GET of the
    resolve route, as the running stack's local platform principal."""
    if not LOCAL_IAM.exists():
        log(f"no {LOCAL_IAM.relative_to(ROOT)}: is `make run` going?")
        return 1
    base_url = f"http://{HOST}:{os.environ.get('API_PORT', API_PORT)}"
    request = resolve_request(base_url, LocalIam.load(LOCAL_IAM), args.tenant, args.tag_or_id)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as error:
        print(error.read().decode())
        return 1
    except (urllib.error.URLError, OSError) as error:
        log(f"no answer from {base_url}: {error}")
        return 1


def command_test(_args: argparse.Namespace) -> int:
    LOCAL.mkdir(exist_ok=True)
    log("compiling the test suites")
    subprocess.run(
        [*SUITE_COMMAND, "--no-run", "--test", "adapters", "--test", "e2e"], cwd=ROOT, env=tool_env(), check=True
    )
    build_binaries()
    moto_port, api_port = free_port(), free_port()
    stack = Stack()
    try:
        start_moto(stack, moto_port)
        bootstrap(moto_port)
        base = {
            **tool_env(),
            **aws_env(moto_port),
            "TABLE_NAME": TABLE,
            "AUDIT_TABLE_NAME": AUDIT_TABLE,
            "KMS_KEY_ID": KEY_ALIAS,
            "IDEMPOTENCY_MAC_KEY_ID": MAC_KEY_ALIAS,
        }
        run_suite("adapters", base)
        scoped_tenant = f"e2e-scoped-{secrets.token_hex(4)}"
        iam = local_principals(scoped_tenant)
        base_url = start_api(
            stack,
            moto_port,
            api_port,
            iam,
            reload=False,
            events_log=LOCAL / f"events-{api_port}.log",
            events_to_console=False,
        )
        platform, scoped = iam.principals.values()
        run_suite(
            "e2e",
            {
                **base,
                "E2E_BASE_URL": base_url,
                "E2E_RESOLVE_REGION": iam.region,
                "E2E_RESOLVE_PRINCIPAL_ARN": platform.arn,
                "E2E_RESOLVE_ACCESS_KEY_ID": platform.access_key_id,
                "E2E_RESOLVE_SECRET_ACCESS_KEY": platform.secret_access_key,
                "E2E_RESOLVE_SCOPED_TENANT": scoped_tenant,
                "E2E_RESOLVE_SCOPED_ACCESS_KEY_ID": scoped.access_key_id,
                "E2E_RESOLVE_SCOPED_SECRET_ACCESS_KEY": scoped.secret_access_key,
                "E2E_JWT_HS256_SECRET": jwt_secret(),
                "E2E_JWT_ISSUER": ISSUER,
                "E2E_JWT_AUDIENCE": AUDIENCE,
                "E2E_TOKEN": mint_token(f"smoke-{secrets.token_hex(4)}", [PERMISSION]),
            },
        )
        log("running the conformance checks (schemathesis)")
        conformance_token = mint_token(f"conformance-{secrets.token_hex(4)}", [PERMISSION])
        subprocess.run(
            [sys.executable, "-m", "tools.checks.conformance", base_url],
            cwd=ROOT,
            env={**tool_env(), "CONFORMANCE_TOKEN": conformance_token},
            check=True,
        )
        run_readme_session(f"{base_url}/api/v1/secrets", api_port)
        check_metric_records(LOCAL / "watch.log", gateway_log(api_port))
        return 0
    except subprocess.CalledProcessError as error:
        # Tokens travel in the environment, never on a command line printed here.
        log(f"failed: {' '.join(map(str, error.cmd))}")
        return 1
    except (AssertionError, RuntimeError) as error:
        log(f"failed: {error}")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()


def check_metric_records(watch_log: Path, gateway_log: Path, settle_s: float = 15) -> None:
    """The functions' EMF records against the requests the gateway shim saw
    reach them, per operation and status class, and what the records say
    the requests cost and the partitions of the secrets table they named,
    against the functions' grants (emf.py). Records travel through `cargo
    lambda watch` to its log on their own time: a difference must last
    `settle_s`."""
    grants = emf.load_grants(TABLE)
    deadline = time.monotonic() + settle_s
    while True:
        problems, records, requests = emf.check(
            watch_log.read_text(errors="replace").splitlines(), gateway_log.read_text().splitlines(), grants
        )
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not problems, "EMF records against the requests that reached the functions:\n  " + "\n  ".join(problems)
    log(f"checked {records} EMF records against {requests} requests that reached a function")


def run_readme_session(api: str, api_port: int) -> None:
    """Runs the README's curl session verbatim, so that the docs stay true:
    each command must print what the README's comments say (readme_session.py).
    Its `make resolve` reaches the stack's resolve function like a developer's."""
    try:
        commands = readme_session.parse(readme_session.session_block((ROOT / "README.md").read_text()))
    except ValueError as error:
        raise AssertionError(str(error)) from error
    log(f"running the README's curl session ({len(commands)} commands)")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_session.script(commands)],
        cwd=ROOT,
        env={**tool_env(), "API": api, "API_PORT": str(api_port)},
        capture_output=True,
        text=True,
    )
    try:
        outputs, last = readme_session.split_output(result.stdout, len(commands))
    except ValueError as error:
        raise AssertionError(str(error)) from error
    if result.returncode != 0:
        failed = commands[last].summary if last is not None else "the session"
        raise AssertionError(
            f"README session: {failed} failed (exit code {result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    problems = readme_session.compare(commands, outputs)
    assert not problems, "README session:\n  " + "\n  ".join(problems)


def run_suite(name: str, env: dict[str, str]) -> None:
    log(f"running the {name} suite")
    subprocess.run([*SUITE_COMMAND, "--test", name], cwd=ROOT, env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run").set_defaults(handler=command_run)
    token = commands.add_parser("token")
    token.add_argument("--tenant", default=DEFAULT_TENANT)
    token.add_argument("--permissions", default=None, help="space-separated; empty for none")
    token.set_defaults(handler=command_token)
    resolve = commands.add_parser("resolve")
    resolve.add_argument("--tenant", default=DEFAULT_TENANT)
    resolve.add_argument("tag_or_id")
    resolve.set_defaults(handler=command_resolve)
    commands.add_parser("test").set_defaults(handler=command_test)
    args = parser.parse_args()
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
