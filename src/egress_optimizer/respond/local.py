"""The deployed response workflow on a laptop: the very ASL file on moto's Step Functions interpreter, each
Lambda task running the real handler (``lambdas/respond/handler.py``) in this process.

moto executes ASL (Retry, Catch, Parallel, task tokens, the SQS and SNS integrations) but, without Docker,
answers Lambda invocations with canned payloads. Its Lambda backend is Python, so ``LocalWorkflow`` replaces
the one method that would start a container with a call to the handler, in the same process and with the same
JSON in and out; a handler's exception becomes Lambda's error payload (``errorType``), which is what the state
machine's Retry and Catch match. No second orchestration path exists to drift from the deployed one.
(Considered: LocalStack and AWS SAM run Lambdas in Docker, Step Functions Local needs Java and Docker for its
Lambdas; moto's in-process backend needs neither.) Needs moto (the ``local`` extra).
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import os
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from egress_optimizer.errors import InputError
from egress_optimizer.respond import approvals, workflow
from egress_optimizer.respond.requests import incident_from_event

REGION = "us-east-1"
HANDLER_FILE = Path("lambdas") / "respond" / "handler.py"
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    """The Lambda context attributes handlers and Powertools read."""

    function_name: str
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    memory_limit_in_mb: int = 512

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def load_handlers(path: Path | None = None) -> dict[str, Handler]:
    """The handler functions of ``lambdas/respond/handler.py`` (from a source checkout, or ``path``)."""
    path = path or Path(__file__).resolve().parents[3] / HANDLER_FILE
    if not path.exists():
        raise InputError(f"{path} not found: the local workflow runs the deployed handlers from a source checkout")
    spec = importlib.util.spec_from_file_location("egress_respond_handler", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its typed payload models resolve their annotations through it
    spec.loader.exec_module(module)
    return {name: getattr(module, name) for name in workflow.TASKS.values()}


class LocalWorkflow:
    """A context manager: moto accounts with the workflow's queue, topic, table, functions and state machine."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        env: Mapping[str, str] | None = None,
        world: Callable[[], object] | None = None,
    ):
        """``world``: called once moto is up and the workflow provisioned, to create the AWS resources the
        responses will read (e.g. ``estate.aws_world.materialize``); moto starts empty otherwise."""
        self.handlers = dict(handlers)
        self.env = dict(env or {})
        self.world = world
        self.invocations: list[tuple[str, dict]] = []

    def __enter__(self) -> LocalWorkflow:
        from moto import mock_aws
        from moto.awslambda.models import LambdaFunction

        fake = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION}
        self._env = mock.patch.dict(os.environ, {**fake, **self.env})
        self._env.start()
        # The interpreter logs every failed state with its whole parse tree; the execution history has it all.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        # The handlers' structured logs are for CloudWatch; on a terminal only their warnings show.
        logging.getLogger("egress-response").setLevel(logging.WARNING)
        self._aws = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._aws.start()
        runner = self

        def invoke(function: Any, event: str | None = None) -> tuple[str, bool, str]:
            return runner._invoke(function.function_name, event)

        self._lambda = mock.patch.object(LambdaFunction, "_invoke_lambda", invoke)
        self._lambda.start()
        try:
            self._provision()
            if self.world is not None:
                self.world()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_running()
        self._lambda.stop()
        self._aws.stop()
        self._env.stop()

    def _stop_running(self) -> None:
        """Stop executions still running (one waiting for an approval): moto runs them on threads that would
        otherwise go on after this run, into the next one's queues."""
        if not getattr(self, "state_machine_arn", None):
            return
        pages = self.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING"
        )
        for execution in (e for page in pages for e in page["executions"]):
            self.sfn.stop_execution(executionArn=execution["executionArn"], cause="the local run ended")

    def _provision(self) -> None:
        role = boto3.client("iam").create_role(RoleName="egress-response", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name=REGION)
        self.dlq_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="egress-response-dlq")["QueueUrl"]
        sns = boto3.client("sns", region_name=REGION)
        self.topic_arn = sns.create_topic(Name="egress-alerts")["TopicArn"]
        # A queue on the topic keeps what was published, to read back (as an email subscriber would get it).
        self.inbox_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="egress-alerts-inbox")[
            "QueueUrl"
        ]
        inbox_arn = f"arn:aws:sqs:{REGION}:123456789012:egress-alerts-inbox"
        sns.subscribe(
            TopicArn=self.topic_arn, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"}
        )
        self.table_name = "egress-approvals"
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=self.table_name,
            KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        # The alerts queue (the notify Lambda's input when deployed): read back with ``alerts()``.
        self.alert_queue_url = boto3.client("sqs", region_name=REGION).create_queue(QueueName="egress-alerts")[
            "QueueUrl"
        ]
        values = {
            "dead_letter_queue_url": self.dlq_url,
            "alerts_topic_arn": self.topic_arn,
            "alert_queue_url": self.alert_queue_url,
        }
        for placeholder, name in workflow.TASKS.items():
            values[placeholder] = lam.create_function(
                FunctionName=f"egress-response-{name}",
                Runtime="python3.12",
                Role=role,
                Handler=f"handler.{name}",
                Code={"ZipFile": _empty_zip()},
            )["FunctionArn"]
        os.environ.update(
            {
                "APPROVALS_TABLE": self.table_name,
                "ALERTS_TOPIC_ARN": self.topic_arn,
                "APPROVAL_TIMEOUT_SECONDS": self.env.get("APPROVAL_TIMEOUT_SECONDS", "3600"),
                # The lake is asked at once whether egress fell (it says when the hours after are not in yet).
                "EGRESS_CHECK_SECONDS": self.env.get("EGRESS_CHECK_SECONDS", "0"),
                "ALERT_QUEUE_URL": self.alert_queue_url,
                "COST_ANOMALY_LOOKUP": "off",  # moto has no Cost Explorer anomalies
            }
        )
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.state_machine_arn = self.sfn.create_state_machine(
            name="egress-anomaly-response", definition=workflow.render(values), roleArn=role
        )["stateMachineArn"]

    def _invoke(self, function_name: str, event: str | None) -> tuple[str, bool, str]:
        name = function_name.removeprefix("egress-response-")
        payload = json.loads(event) if isinstance(event, str) and event else (event or {})
        self.invocations.append((name, payload))
        try:
            result = self.handlers[name](payload, LocalContext(function_name))
        except Exception as exc:  # the Lambda runtime's error payload: the state machine matches errorType
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}), True, ""
        return json.dumps(result), False, ""

    def start(self, event: dict[str, Any]) -> dict[str, Any]:
        """Start the response to the incident ``event`` carries (once per incident, as deployed)."""
        return workflow.start(self.sfn, self.state_machine_arn, incident_from_event(event), event)

    def wait(self, execution_arn: str, timeout: float = 60.0, until: Callable[[], bool] | None = None) -> dict:
        """Poll until the execution ends (or ``until()`` holds); its description."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING" or (until is not None and until()):
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still running after {timeout} s")
            time.sleep(0.05)

    def table(self) -> Any:
        return boto3.resource("dynamodb", region_name=REGION).Table(self.table_name)

    def pending_approvals(self, incident_id: str | None = None) -> list[dict[str, Any]]:
        return approvals.pending(self.table(), incident_id)

    def decide(self, approval_id: str, decision: str, approver: str) -> dict[str, Any]:
        return approvals.decide(self.table(), self.sfn, approval_id, decision, approver)

    def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in _drain(self.dlq_url)]

    def notifications(self) -> list[str]:
        return _drain(self.inbox_url)

    def alerts(self) -> list[dict[str, Any]]:
        """What the workflow queued for the alerts (the incident and its extras), oldest first."""
        return [json.loads(m) for m in _drain(self.alert_queue_url)]


def _drain(queue_url: str) -> list[str]:
    sqs = boto3.client("sqs", region_name=REGION)
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _empty_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "# the local runner calls lambdas/respond/handler.py in process\n")
    return buf.getvalue()
