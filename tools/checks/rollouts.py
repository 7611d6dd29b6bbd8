"""Alarms and safe rollouts, checked on the transformed template (part of
`python -m tools.checks.template`):

- Every function is published behind an alias (`AutoPublishAlias`) that
  CodeDeploy moves (`DeploymentPreference`): gradually, never all at once,
  rolling back when an alarm fires; and API Gateway invokes the alias, not
  the function, so that only the version CodeDeploy chose serves requests.
- Every function has alarms on its own Errors and Throttles, and its
  rollout watches them (and its IteratorAge alarm, if it reads a stream)
  and every alarm of the stack that is not another function's own, except
  a queue's backlog: no rollout watches that (it stays until someone
  drains the queue, and would roll back every deploy meanwhile, the fix's
  included).
- Every alarm notifies a topic of this stack, when it fires and when it
  recovers.
- Every audited function's log group turns "audit record not stored" (the
  message of crates/secrets-lambda/src/refusals.rs) into a metric an alarm
  watches; every function that calls KMS has its KMSThrottles (our EMF
  metric) watched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tools import ROOT
from tools.checks.template import (
    AUDITED,
    aliases_of,
    as_list,
    load_manifest,
    ref_target,
    resources_of,
)

REFUSALS = ROOT / "crates" / "secrets-lambda" / "src" / "refusals.rs"
OWN_ALARMS = ("Errors", "Throttles")
# A stream consumer's own too, where it has one.
STREAM_ALARM = "IteratorAge"
# A queue's backlog (the change events' failure queue): no rollout's.
BACKLOG = ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
ROLLBACK_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
# The EMF metric the functions count throttled KMS attempts in
# (crates/secrets-aws/src/metrics.rs), with a FunctionName dimension.
KMS_THROTTLES = ("CortexSecrets", "KMSThrottles")


def not_stored_message() -> str:
    """The log message of a refusal whose audit record was not stored, as
    the code writes it."""
    found = re.search(r'pub const NOT_STORED: &str = "([^"]+)";', REFUSALS.read_text())
    if not found:
        raise ValueError(f"{REFUSALS.relative_to(ROOT)} no longer defines NOT_STORED")
    return found.group(1)


def metrics_of(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm reads: its own, or those of its metric math."""
    properties = alarm.get("Properties", {})
    if "MetricName" in properties:
        return [properties]
    return [query["MetricStat"]["Metric"] for query in properties.get("Metrics", []) if "MetricStat" in query]


def dimension(metric: dict[str, Any], name: str) -> Any:
    return next((d.get("Value") for d in metric.get("Dimensions", []) if d.get("Name") == name), None)


def own_alarm_of(alarm: dict[str, Any]) -> tuple[str, str] | None:
    """(function, Errors|Throttles|IteratorAge) for a function's own Lambda alarm."""
    metrics = metrics_of(alarm)
    if len(metrics) != 1 or metrics[0].get("Namespace") != "AWS/Lambda":
        return None
    function = ref_target(dimension(metrics[0], "FunctionName"))
    kind = metrics[0].get("MetricName")
    return (function, kind) if function and kind in (*OWN_ALARMS, STREAM_ALARM) else None


def is_backlog(alarm: dict[str, Any]) -> bool:
    metrics = metrics_of(alarm)
    return bool(metrics) and all((m.get("Namespace"), m.get("MetricName")) == BACKLOG for m in metrics)


def check_rollouts(cfn: dict[str, Any]) -> Iterator[str]:
    resources = cfn.get("Resources", {})
    alarms = dict(resources_of(cfn, "AWS::CloudWatch::Alarm"))
    own = {name: owner for name, alarm in alarms.items() if (owner := own_alarm_of(alarm))}
    backlogs = {name for name, alarm in alarms.items() if is_backlog(alarm)}
    shared = set(alarms) - set(own) - backlogs
    functions = [name for name, _ in resources_of(cfn, "AWS::Lambda::Function")]
    for function in functions:
        for kind in OWN_ALARMS:
            if (function, kind) not in own.values():
                yield f"{function}: no alarm on its {kind}"
        aliases = aliases_of(cfn, function)
        if not aliases:
            yield f"{function}: must be published behind an alias (AutoPublishAlias)"
        for alias in sorted(aliases):
            update = resources[alias].get("UpdatePolicy", {}).get("CodeDeployLambdaAliasUpdate", {})
            group = resources.get(ref_target(update.get("DeploymentGroupName")) or "")
            if group is None:
                yield f"{function}: its alias {alias} must be moved by CodeDeploy (DeploymentPreference)"
                continue
            watched = {
                ref_target(entry.get("Name"))
                for entry in group.get("Properties", {}).get("AlarmConfiguration", {}).get("Alarms", [])
            }
            yield from check_group(function, group.get("Properties", {}))
            expected = shared | {name for name, (owner, _) in own.items() if owner == function}
            for missing in sorted(expected - watched):
                yield f"{function}: its rollout does not watch {missing}"
            for backlog in sorted(backlogs & {name for name in watched if name}):
                yield (
                    f"{function}: its rollout must not watch {backlog}: a backlog stays until drained, "
                    "and would roll back every deploy meanwhile, the fix's included"
                )
    yield from check_integrations(cfn, functions)
    yield from check_notifications(cfn, alarms)
    yield from check_audit_gaps(cfn, alarms)
    yield from check_kms_throttles(alarms)


def check_group(function: str, group: dict[str, Any]) -> Iterator[str]:
    if group.get("AlarmConfiguration", {}).get("Enabled") is not True:
        yield f"{function}: its rollout must watch its alarms (AlarmConfiguration.Enabled)"
    rollback = group.get("AutoRollbackConfiguration", {})
    if rollback.get("Enabled") is not True or ROLLBACK_ON_ALARM not in rollback.get("Events", []):
        yield f"{function}: its rollout must roll back when an alarm fires ({ROLLBACK_ON_ALARM})"
    if "AllAtOnce" in json.dumps(group.get("DeploymentConfigName")):
        yield f"{function}: its rollout must be gradual (canary or linear), not all at once"


def check_integrations(cfn: dict[str, Any], functions: list[str]) -> Iterator[str]:
    """API Gateway invokes aliases: `${Function.Arn}` in an integration
    would send every request to the newest version, canary or not."""
    for name, api in resources_of(cfn, "AWS::ApiGateway::RestApi"):
        for path, methods in api.get("Properties", {}).get("Body", {}).get("paths", {}).items():
            for verb, method in methods.items():
                uri = json.dumps(method.get("x-amazon-apigateway-integration", {}).get("uri"))
                for function in functions:
                    if f"${{{function}.Arn}}" in uri:
                        yield f"{name}: {verb.upper()} {path} invokes {function} itself, not its alias"
    for name, permission in resources_of(cfn, "AWS::Lambda::Permission"):
        if ref_target(permission.get("Properties", {}).get("FunctionName")) in functions:
            yield f"{name}: lets API Gateway invoke a function itself, not its alias"


def check_notifications(cfn: dict[str, Any], alarms: dict[str, dict[str, Any]]) -> Iterator[str]:
    topics = {name for name, _ in resources_of(cfn, "AWS::SNS::Topic")}
    for name, alarm in sorted(alarms.items()):
        properties = alarm.get("Properties", {})
        for actions in ("AlarmActions", "OKActions"):
            if not any(ref_target(action) in topics for action in as_list(properties.get(actions, []))):
                yield f"{name}: must notify this stack's topic ({actions})"


def check_audit_gaps(cfn: dict[str, Any], alarms: dict[str, dict[str, Any]]) -> Iterator[str]:
    message = not_stored_message()
    watched = {
        json.dumps([metric.get("Namespace"), metric.get("MetricName")])
        for alarm in alarms.values()
        for metric in metrics_of(alarm)
    }
    filters = [filter_ for _, filter_ in resources_of(cfn, "AWS::Logs::MetricFilter")]
    for function in sorted(AUDITED):
        log_group = ref_target(
            cfn["Resources"].get(function, {}).get("Properties", {}).get("LoggingConfig", {}).get("LogGroup")
        )
        counted = [
            transformation
            for filter_ in filters
            if ref_target(filter_.get("Properties", {}).get("LogGroupName")) == log_group
            and filter_.get("Properties", {}).get("FilterPattern") == f'{{ $.fields.message = "{message}" }}'
            for transformation in filter_.get("Properties", {}).get("MetricTransformations", [])
            if transformation.get("MetricValue") == "1"
        ]
        if not any(json.dumps([t.get("MetricNamespace"), t.get("MetricName")]) in watched for t in counted):
            yield f'{function}: "{message}" in its log must feed a metric an alarm watches'


def check_kms_throttles(alarms: dict[str, dict[str, Any]]) -> Iterator[str]:
    manifest = load_manifest()
    watched = {
        ref_target(dimension(metric, "FunctionName"))
        for alarm in alarms.values()
        for metric in metrics_of(alarm)
        if (metric.get("Namespace"), metric.get("MetricName")) == KMS_THROTTLES
    }
    for function, actions in sorted(manifest["functions"].items()):
        if any(action.startswith("kms:") for action in actions) and function not in watched:
            yield f"{function}: calls KMS, so an alarm must watch its {KMS_THROTTLES[1]}"
