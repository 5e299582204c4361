"""S3 "object created" notifications -> ingested objects: the library side of the ingest Lambda.

Message bodies come in three shapes, each parsed and validated with Powertools' parser models:

- an S3 event notification (``{"Records": [{"eventSource": "aws:s3", ...}]}``), as S3 sends it to SQS;
- the same wrapped in an SNS envelope (``{"Type": "Notification", "Message": "<json>"}``), when S3 fans out
  through a topic without raw message delivery;
- an EventBridge event (``"source": "aws.s3"``, ``"detail-type": "Object Created"``).

S3 URL-encodes keys in notifications the ``application/x-www-form-urlencoded`` way (a space arrives as ``+``,
a plus as ``%2B``), so keys are decoded with ``unquote_plus``. The ``s3:TestEvent`` S3 sends when a
notification is configured, and events that are not object creations, yield no objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import unquote_plus

import pyarrow.fs as pafs
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.exceptions import InvalidEnvelopeError, InvalidModelTypeError
from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    S3EventNotificationEventBridgeModel,
    S3Model,
    S3RecordModel,
    SnsNotificationModel,
)
from aws_lambda_powertools.utilities.parser.models.s3 import (
    S3Bucket,
    S3Identity,
    S3Message,
    S3OwnerIdentify,
    S3RequestParameters,
    S3ResponseElements,
)
from pydantic import BaseModel

from egress_optimizer.ingest.objects import FsBody, source_object
from egress_optimizer.ingest.pipeline import ObjectResult, detect_source, ingest_object, record_changes
from egress_optimizer.lake import Lake, s3_filesystem

_Model = TypeVar("_Model", bound=BaseModel)


class MalformedEvent(ValueError):
    """A message body that is not an S3 event notification this module understands."""


# Identity and request fields are optional here: this module reads none of them, and S3 look-alikes (moto,
# replays written by hand) leave them out.
class _Bucket(S3Bucket):
    ownerIdentity: S3OwnerIdentify | None = None  # type: ignore[assignment]


class _Message(S3Message):
    bucket: _Bucket  # type: ignore[assignment]


class _Record(S3RecordModel):
    userIdentity: S3Identity | None = None  # type: ignore[assignment]
    requestParameters: S3RequestParameters | None = None  # type: ignore[assignment]
    responseElements: S3ResponseElements | None = None  # type: ignore[assignment]
    s3: _Message  # type: ignore[assignment]


class _Notification(S3Model):
    Records: list[_Record]  # type: ignore[assignment]


class _TestEvent(BaseModel):
    """What S3 sends once when a notification is configured."""

    Service: str
    Event: Literal["s3:TestEvent"]


@dataclass(frozen=True)
class S3ObjectRef:
    """One created object, as announced by a notification (key already URL-decoded)."""

    bucket: str
    key: str
    region: str = ""
    size: int = -1  # -1: not announced
    etag: str = ""
    sequencer: str = ""
    version_id: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> S3ObjectRef:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _loads(body: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        return body
    try:
        doc = json.loads(body)
    except (TypeError, ValueError) as e:
        raise MalformedEvent(f"message body is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise MalformedEvent(f"message body is JSON {type(doc).__name__}, not an object")
    return doc


def _parse(model: type[_Model], doc: Mapping[str, Any], what: str) -> _Model:
    try:
        return parse(event=dict(doc), model=model)
    except ValidationError as e:
        first = e.errors()[0] if e.errors() else {"loc": (), "msg": str(e)}
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MalformedEvent(f"not a valid {what}: {where}: {first.get('msg')}") from None
    except (InvalidEnvelopeError, InvalidModelTypeError) as e:  # a model's validator tripping over a gap
        raise MalformedEvent(f"not a valid {what}: {str(e).splitlines()[0]}") from None


def _key(raw: str, what: str) -> str:
    key = unquote_plus(raw)
    if not key:
        raise MalformedEvent(f"{what} is empty")
    return key


def _size(value: float | None) -> int:
    return -1 if value is None else int(value)


def _from_notification(doc: Mapping[str, Any]) -> list[S3ObjectRef]:
    note = _parse(_Notification, doc, "S3 event notification")
    if not note.Records:
        raise MalformedEvent("S3 event notification has no Records")
    refs = []
    for rec in note.Records:
        obj = rec.s3.object
        if not rec.eventName.startswith("ObjectCreated:") or obj is None:
            continue  # removals, restores, replication events: nothing to ingest
        refs.append(
            S3ObjectRef(
                bucket=rec.s3.bucket.name,
                key=_key(obj.key, "s3.object.key"),
                region=rec.awsRegion,
                size=_size(obj.size),
                etag=(obj.eTag or "").strip('"'),
                sequencer=obj.sequencer or "",
                version_id=obj.versionId or "",
            )
        )
    return refs


def _from_eventbridge(doc: Mapping[str, Any]) -> list[S3ObjectRef]:
    if _parse(EventBridgeModel, doc, "EventBridge event").detail_type != "Object Created":
        return []
    event = _parse(S3EventNotificationEventBridgeModel, doc, "EventBridge S3 event")
    obj = event.detail.object
    return [
        S3ObjectRef(
            bucket=event.detail.bucket.name,
            key=_key(obj.key, "detail.object.key"),
            region=event.region,
            size=_size(obj.size),
            etag=obj.etag.strip('"'),
            sequencer=obj.sequencer or "",
            version_id=obj.version_id or "",
        )
    ]


def s3_objects(body: str | bytes | Mapping[str, Any]) -> list[S3ObjectRef]:
    """The objects a message body announces as created; [] for test events and non-creation events.

    Raises ``MalformedEvent`` for anything that is not one of the shapes in the module docstring."""
    doc = _loads(body)
    if doc.get("Type") == "Notification":  # SNS envelope
        message = _parse(SnsNotificationModel, doc, "SNS notification").Message
        return s3_objects(message if isinstance(message, str) else json.dumps(message))
    if doc.get("Event") == "s3:TestEvent":
        _parse(_TestEvent, doc, "S3 test event")
        return []
    if "Records" in doc:
        return _from_notification(doc)
    if doc.get("source") == "aws.s3" and "detail-type" in doc:
        return _from_eventbridge(doc)
    raise MalformedEvent(f"not an S3 event notification (keys: {', '.join(sorted(doc))[:200]})")


def open_s3_object(ref: S3ObjectRef) -> tuple[pafs.FileSystem, str]:
    """The object's filesystem and path; raises OSError when it cannot be read (access denied, deleted)."""
    fs = s3_filesystem(ref.region or None)
    path = f"{ref.bucket}/{ref.key}"
    info = fs.get_file_info(path)  # a HEAD: access errors surface here, before anything is written
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"{ref.uri} does not exist (deleted after the notification?)")
    return fs, path


def ingest_s3_object(ref: S3ObjectRef, lake: Lake) -> ObjectResult:
    """Ingest one announced object into the lake.

    An object that is not a recognised log is skipped (``result.skipped``); one that cannot be parsed at all
    is recorded by the pipeline (``result.failed`` and a quarantine row). Errors reading S3 or writing the
    lake raise."""
    fs, path = open_s3_object(ref)
    # Same identity as ``egress ingest s3://...`` gives the object, so a backfill and the Lambda replace
    # each other's outputs instead of duplicating them.
    obj = source_object(fs, path, ref.uri, ref.key)
    body = FsBody(fs, path)
    source, why = detect_source(obj, body)
    if source is None:
        return ObjectResult(uri=obj.uri, source=None, bytes=obj.size, skipped=True, reason=why)
    result = ingest_object(lake, obj, body, source)
    record_changes(lake, [result])
    return result
