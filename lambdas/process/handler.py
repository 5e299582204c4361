"""Process Lambda: on a schedule (and after ingestion), attribute and featurize what arrived since the last run.

Thin on purpose: ``stages.processing_backlog`` reads the journal to size the work and
``processing.choose_runner`` picks where it runs. A small backlog runs here (``stages.build_features``, the
same stage the Glue job runs) and then puts "Features Updated" on the bus, which triggers the detect Lambda; a
large one (a busy day, a rebuild) starts the Glue job, whose "Glue Job State Change" (SUCCEEDED) triggers
detection in the same way. Nothing runs while a Glue run is in progress: it consumes the same journal, and two
writers on one lake would race (the function's reserved concurrency is 1 for the same reason).

Environment: ``LAKE_URI`` (s3://bucket/prefix), ``GLUE_JOB_NAME``, ``EVENT_BUS_NAME``,
``LAMBDA_MAX_PENDING_BYTES`` (optional; log bytes above which Glue runs), ``POWERTOOLS_SERVICE_NAME`` /
``POWERTOOLS_METRICS_NAMESPACE``.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from egress_optimizer import processing, stages
from egress_optimizer.lake import Lake

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EgressOptimizer"))
glue_client = boto3.client("glue")
events_client = boto3.client("events")


@metrics.log_metrics
@logger.inject_lambda_context
@event_parser(model=EventBridgeModel)
def handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    lake_uri, job = os.environ["LAKE_URI"], os.environ["GLUE_JOB_NAME"]
    summary: dict[str, Any] = {"trigger": event.id}
    running = processing.glue_job_running(glue_client, job)
    if running:
        logger.info("glue run in progress; it takes this backlog", extra={"job_run_id": running})
        return {**summary, "runner": "glue", "job_run_id": running, "started": False}
    lake = Lake.open(lake_uri, create=False)
    inputs = stages.attribution_inputs(lake)
    work = stages.processing_backlog(lake, inputs)
    limit = int(os.environ.get("LAMBDA_MAX_PENDING_BYTES", processing.DEFAULT_LAMBDA_MAX_BYTES))
    runner = processing.choose_runner(work, limit)
    summary.update(runner=runner.value, backlog=work.to_json())
    metrics.add_metric(name="PendingLogBytes", unit=MetricUnit.Bytes, value=work.log_bytes)
    if runner is processing.Runner.GLUE:
        run_id = processing.start_glue_job(glue_client, job, lake_uri)
        summary.update(job_run_id=run_id, started=run_id is not None)
    elif runner is processing.Runner.LAMBDA:
        build = stages.build_features(lake, inputs)
        summary.update(build.to_json())
        metrics.add_metric(name="HoursAttributed", unit=MetricUnit.Count, value=len(build.attribution.attributed_hours))
        processing.announce_features(events_client, os.environ["EVENT_BUS_NAME"], lake_uri, build.to_json())
    logger.info("process run", extra=summary)
    return summary
