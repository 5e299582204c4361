"""Detect Lambda: hourly (EventBridge schedule) scoring of new feature rows with the current model, and the
installation of each model the weekly SageMaker training produces.

Thin on purpose: the stage (``egress_optimizer.stages.detect``) scores the new hours and writes ``anomalies``
and ``incidents``; ``stages.deliver_incidents`` puts each incident never reported before on the event bus (its
detail is the incident contract) and remembers only the accepted ones, so a refused put is retried by the next
run, and the invocation fails so Lambda's retry and on-failure destination see it.

A ``Model Trained`` event (source ``egress.optimizer``, put by the training state machine of infra/modules/ml;
detail ``{"model_artifacts": "s3://.../model.tar.gz", "training_job_name": "..."}``) scores nothing:
``stages.install_model`` makes that archive the lake's current model, provided it lies under
``MODEL_ARTIFACTS_PREFIX`` (the deployment's model output path; the event's text does not choose what gets
unpickled). A refused model (outside the prefix, unreadable, other signals, or no prefix configured) fails the
invocation and leaves the current model in place.

Environment: ``LAKE_URI`` (s3://bucket/prefix), ``EVENT_BUS_NAME``, ``MIN_IMPACT_USD`` / ``MIN_IMPACT_PCT`` /
``MIN_SHARE_PCT`` (optional thresholds; materiality is a % of the account's daily egress spend),
``MODEL_ARTIFACTS_PREFIX`` (s3://bucket/prefix/ the trained models may be installed from),
``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``.
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

from egress_optimizer import stages
from egress_optimizer.contracts.events import EVENT_SOURCE, MODEL_TRAINED
from egress_optimizer.detection.events import MIN_IMPACT_SHARE
from egress_optimizer.errors import InputError
from egress_optimizer.lake import Lake

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EgressOptimizer"))
events_client = boto3.client("events")
s3_client = boto3.client("s3")


class DeliveryError(Exception):
    """EventBridge refused some entries; the run fails so they are retried."""


class ModelNotInstalled(Exception):
    """A trained model was refused (or cannot be installed here); the run fails so it is seen."""


@metrics.log_metrics
@logger.inject_lambda_context
@event_parser(model=EventBridgeModel)
def handler(event: EventBridgeModel, context: LambdaContext) -> dict[str, Any]:
    lake = Lake.open(os.environ["LAKE_URI"], create=False)
    if event.source == EVENT_SOURCE and event.detail_type == MODEL_TRAINED:
        return install(lake, event)
    result = stages.detect(
        lake,
        min_impact_usd=float(os.environ.get("MIN_IMPACT_USD", "0")),
        min_impact_pct=float(os.environ.get("MIN_IMPACT_PCT", "0")),
        min_impact_share=float(os.environ.get("MIN_SHARE_PCT", str(100 * MIN_IMPACT_SHARE))) / 100,
        record_emitted=False,
    )
    delivery = stages.deliver_incidents(lake, events_client, os.environ["EVENT_BUS_NAME"], result.new_incidents)
    for incident, code in delivery.refused:
        logger.error("incident not delivered", extra={"incident_id": incident.id, "error": code})
    metrics.add_metric(name="AnomalousSeriesHours", unit=MetricUnit.Count, value=result.anomalies)
    metrics.add_metric(name="IncidentsEmitted", unit=MetricUnit.Count, value=len(delivery.delivered))
    summary = {
        "trigger": event.id,
        "model_version": result.model_version,
        "scored_to": result.scored_to.isoformat() if result.scored_to is not None else None,
        "anomalies": result.anomalies,
        "new_incidents": [i.id for i in delivery.delivered],
    }
    logger.info("detect run", extra=summary)
    if not delivery.complete:
        raise DeliveryError(f"{len(delivery.refused)} incidents not accepted by EventBridge")
    return summary


def install(lake: Lake, event: EventBridgeModel) -> dict[str, Any]:
    """A trained model into the lake's model store; no scoring in this invocation (the next run uses it)."""
    uri, job = event.detail.get("model_artifacts"), event.detail.get("training_job_name")
    prefix = os.environ.get("MODEL_ARTIFACTS_PREFIX", "")
    try:
        if not prefix:
            raise InputError("MODEL_ARTIFACTS_PREFIX is not set: this function installs no trained model")
        if not isinstance(uri, str) or (job is not None and not isinstance(job, str)):
            raise InputError("the event's detail names no model_artifacts URI")
        meta = stages.install_model(lake, s3_client, uri, prefix, job)
    except InputError as exc:
        failure = {"model_artifacts": uri, "training_job_name": job, "error": str(exc)}
        logger.error("trained model not installed", extra=failure)
        raise ModelNotInstalled(str(exc)) from None
    summary = {"trigger": event.id, "installed": meta["version"], "source": uri, "training_job_name": job}
    metrics.add_metric(name="ModelsInstalled", unit=MetricUnit.Count, value=1)
    logger.info("model installed", extra=summary)
    return summary
