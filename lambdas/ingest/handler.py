"""Ingest Lambda: SQS batches of S3 "object created" notifications -> lake Parquet + Glue partitions.

Thin on purpose: the stages (``egress_optimizer.stages.announced_objects`` parses a message with Powertools'
parser models, ``stages.ingest_announced`` ingests and registers) do the work; this module wires them to
Powertools' batch processing and idempotency. Per SQS message:

- a body that is not an S3 notification (not JSON, missing keys) or an object that cannot be read from S3
  is reported in ``batchItemFailures`` (SQS retries it, then its DLQ gets it); the rest of the batch goes on;
- an object that is not a recognised log is acknowledged and logged; one that cannot be parsed is recorded
  in the quarantine table by the pipeline and acknowledged (retrying would not help);
- each object is processed once per (bucket, key, ETag): a redelivered notification is answered from the
  idempotency table without touching the lake.

Environment: ``LAKE_URI`` (s3://bucket/prefix), ``IDEMPOTENCY_TABLE`` (DynamoDB, partition key ``id``),
``GLUE_DATABASE`` (optional: no Glue registration when unset), ``IDEMPOTENCY_EXPIRES_SECONDS`` (default one
day), ``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_SERVICE_NAME``.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from egress_optimizer import stages
from egress_optimizer.ingest.aws_event import S3ObjectRef
from egress_optimizer.lake import Lake

LAKE_URI = os.environ["LAKE_URI"]
GLUE_DATABASE = os.environ.get("GLUE_DATABASE") or None

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EgressOptimizer"))
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
idempotency = IdempotencyConfig(
    # The object's identity, not the message's: SNS- and EventBridge-delivered copies dedupe too.
    event_key_jmespath="[bucket, key, etag || sequencer]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=int(os.environ.get("IDEMPOTENCY_EXPIRES_SECONDS", "86400")),
)
glue = stages.GlueTarget(GLUE_DATABASE, boto3.Session()) if GLUE_DATABASE else None

# Warm-container state: the lake handle and the partitions already registered in Glue.
_lake: Lake | None = None
_registered: set[str] = set()


def lake() -> Lake:
    global _lake
    if _lake is None:
        _lake = Lake.open(LAKE_URI, create=True)
    return _lake


@idempotent_function(data_keyword_argument="s3_object", persistence_store=persistence, config=idempotency)
def ingest(s3_object: dict[str, Any]) -> dict[str, Any]:
    """Ingest one object; metrics are emitted here so an idempotent replay does not count twice."""
    ref = S3ObjectRef.from_dict(s3_object)
    try:
        result, partitions = stages.ingest_announced(lake(), ref, glue, _registered)
    except Exception:
        metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=1)
        raise
    summary = {
        "uri": result.uri,
        "source": result.source,
        "skipped": result.skipped,
        "failed": result.failed,
        "reason": result.reason,
        "records_read": result.records_read,
        "parsed": result.parsed,
        "quarantined": result.quarantined,
        "bytes": result.bytes,
        "files": result.files,
        "partitions_created": partitions,
    }
    if result.skipped:
        logger.info("object is not a recognised log; acknowledged", extra=summary)
        return summary
    metrics.add_metric(name="RecordsParsed", unit=MetricUnit.Count, value=result.parsed)
    metrics.add_metric(name="RecordsQuarantined", unit=MetricUnit.Count, value=result.quarantined)
    metrics.add_metric(name="BytesIngested", unit=MetricUnit.Bytes, value=result.bytes)
    if result.failed:
        metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("object could not be parsed; recorded in quarantine", extra=summary)
    else:
        logger.info("object ingested", extra=summary)
    return summary


def record_handler(record: SQSRecord) -> list[dict[str, Any]]:
    try:
        refs = stages.announced_objects(record.body)  # MalformedEvent -> this message fails, the others go on
        if not refs:
            logger.info("no created object in message (test or non-creation event)", extra={"body": record.body[:500]})
        return [ingest(s3_object=ref.to_dict()) for ref in refs]
    except Exception:
        # The batch processor only reports the message id; the reason belongs in the log.
        logger.exception("message failed; SQS will retry it", extra={"message_id": record.message_id})
        raise


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)  # in-progress records expire with this invocation
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
