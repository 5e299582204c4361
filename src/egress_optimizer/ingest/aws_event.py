"""S3 "object created" notifications -> ingested objects: the library side of the ingest Lambda.

Message bodies come in three shapes, all handled by ``s3_objects``:

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
from typing import Any
from urllib.parse import unquote_plus

import pyarrow.fs as pafs

from egress_optimizer.catalog import register_files
from egress_optimizer.ingest.objects import FsBody, source_object
from egress_optimizer.ingest.pipeline import ObjectResult, detect_source, ingest_object
from egress_optimizer.lake import Lake, _s3_filesystem


class MalformedEvent(ValueError):
    """A message body that is not an S3 event notification this module understands."""


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


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedEvent(f"{what} is missing or not a string")
    return value


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _from_notification_record(rec: Any) -> S3ObjectRef | None:
    if not isinstance(rec, Mapping):
        raise MalformedEvent("an S3 notification record is not an object")
    if rec.get("eventSource") != "aws:s3":
        raise MalformedEvent(f"record from {rec.get('eventSource')!r}, not aws:s3")
    if not str(rec.get("eventName", "")).startswith("ObjectCreated:"):
        return None  # removals, restores, replication events: nothing to ingest
    try:
        bucket, obj = rec["s3"]["bucket"], rec["s3"]["object"]
        return S3ObjectRef(
            bucket=_str(bucket["name"], "s3.bucket.name"),
            key=unquote_plus(_str(obj["key"], "s3.object.key")),
            region=str(rec.get("awsRegion") or ""),
            size=_int(obj.get("size")),
            etag=str(obj.get("eTag") or "").strip('"'),
            sequencer=str(obj.get("sequencer") or ""),
            version_id=str(obj.get("versionId") or ""),
        )
    except (KeyError, TypeError) as e:
        raise MalformedEvent(f"S3 notification record lacks {e}") from None


def _from_eventbridge(doc: Mapping[str, Any]) -> list[S3ObjectRef]:
    if doc.get("detail-type") != "Object Created":
        return []
    try:
        detail = doc["detail"]
        obj = detail["object"]
        return [
            S3ObjectRef(
                bucket=_str(detail["bucket"]["name"], "detail.bucket.name"),
                key=unquote_plus(_str(obj["key"], "detail.object.key")),
                region=str(doc.get("region") or ""),
                size=_int(obj.get("size")),
                etag=str(obj.get("etag") or "").strip('"'),
                sequencer=str(obj.get("sequencer") or ""),
                version_id=str(obj.get("version-id") or ""),
            )
        ]
    except (KeyError, TypeError) as e:
        raise MalformedEvent(f"EventBridge S3 event lacks {e}") from None


def s3_objects(body: str | bytes | Mapping[str, Any]) -> list[S3ObjectRef]:
    """The objects a message body announces as created; [] for test events and non-creation events.

    Raises ``MalformedEvent`` for anything that is not one of the shapes in the module docstring."""
    doc = _loads(body)
    if doc.get("Type") == "Notification" and "Message" in doc:  # SNS envelope
        return s3_objects(_str(doc["Message"], "SNS Message"))
    if doc.get("Event") == "s3:TestEvent":
        return []
    if "Records" in doc:
        records = doc["Records"]
        if not isinstance(records, list) or not records:
            raise MalformedEvent("Records is not a non-empty list")
        return [ref for rec in records if (ref := _from_notification_record(rec)) is not None]
    if doc.get("source") == "aws.s3" and "detail-type" in doc:
        return _from_eventbridge(doc)
    raise MalformedEvent(f"not an S3 event notification (keys: {', '.join(sorted(doc))[:200]})")


def open_s3_object(ref: S3ObjectRef) -> tuple[pafs.FileSystem, str]:
    """The object's filesystem and path; raises OSError when it cannot be read (access denied, deleted)."""
    fs = _s3_filesystem(ref.region or None)
    path = f"{ref.bucket}/{ref.key}"
    info = fs.get_file_info(path)  # a HEAD: access errors surface here, before anything is written
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"{ref.uri} does not exist (deleted after the notification?)")
    return fs, path


def ingest_s3_object(
    ref: S3ObjectRef,
    lake: Lake,
    glue: Any = None,
    database: str | None = None,
    registered: set[str] | None = None,
) -> tuple[ObjectResult, int]:
    """Ingest one announced object into the lake and register the partitions it wrote in Glue.

    Returns the pipeline's result and the number of Glue partitions created. An object that is not a
    recognised log is skipped (``result.skipped``); one that cannot be parsed at all is recorded by the
    pipeline (``result.failed`` and a quarantine row). Errors reading S3 or writing the lake raise.

    ``registered`` (partition folders known to exist in Glue) saves Glue calls across objects; it is only
    updated after Glue accepted the partitions."""
    fs, path = open_s3_object(ref)
    # Same identity as ``egress ingest s3://...`` gives the object, so a backfill and the Lambda replace
    # each other's outputs instead of duplicating them.
    obj = source_object(fs, path, ref.uri, ref.key)
    body = FsBody(fs, path)
    source, why = detect_source(obj, body)
    if source is None:
        return ObjectResult(uri=obj.uri, source=None, bytes=obj.size, skipped=True, reason=why), 0
    result = ingest_object(lake, obj, body, source)
    created = 0
    if glue is not None and database:
        known = registered if registered is not None else set()
        new_files = [f for f in result.files if f.rsplit("/", 1)[0] not in known]
        if new_files:
            created = sum(register_files(glue, database, lake, new_files).partitions.values())
            known.update(f.rsplit("/", 1)[0] for f in new_files)
    return result, created
