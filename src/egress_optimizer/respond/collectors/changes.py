"""Configuration changes around an incident, from CloudTrail: who changed what that moves data-transfer costs.

Read through ``LookupEvents`` (one targeted lookup per watched event name over the window and the day before
it), or from CloudTrail log records an organisation trail delivered to S3 (the same record format; the local
runner reads those). Every record becomes evidence; whether it touches one of the incident's resources is a
fact of its own, so the root-cause rules can tell "this bucket was made public an hour before" from "something
was changed in the account that day".
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pyarrow.fs as pafs

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.respond.evidence import Evidence, make

# What changes where data goes or how much of it is served from where: public access, replication, VPC
# endpoints (a lost gateway endpoint sends S3 through the NAT gateway), egress rules, CDN caching, deployments.
WATCHED_EVENTS = (
    "PutBucketPolicy",
    "PutBucketAcl",
    "PutPublicAccessBlock",
    "DeletePublicAccessBlock",
    "PutBucketReplication",
    "DeleteVpcEndpoints",
    "ModifyVpcEndpoint",
    "AuthorizeSecurityGroupEgress",
    "UpdateDistribution",
    "CreateInvalidation",
    "UpdateService",
    "CreateService",
    "CreateDeployment",
)
LOOKBACK = timedelta(hours=24)
MAX_PAGES_PER_EVENT = 5
REQUEST_CHARS = 2000  # request parameters kept as data, cut to this length


def lookup_changes(cloudtrail: Any, incident: Incident, lookback: timedelta = LOOKBACK) -> list[Evidence]:
    """Watched changes from ``LookupEvents`` (the client of the incident's account and region)."""
    start, end = incident.window.start - lookback, incident.window.end
    records = []
    for name in WATCHED_EVENTS:
        pages = cloudtrail.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}],
            StartTime=start,
            EndTime=end,
            PaginationConfig={"MaxItems": 50 * MAX_PAGES_PER_EVENT, "PageSize": 50},
        )
        for page in pages:
            records.extend(_record_of(e) for e in page.get("Events", []))
    return changes_from_records(incident, records, lookback)


def trail_changes(root: str, incident: Incident, lookback: timedelta = LOOKBACK) -> list[Evidence]:
    """Watched changes from CloudTrail log files under ``root`` (a folder or ``s3://bucket/prefix`` holding
    ``AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/*.json.gz``), reading only the window's days."""
    if "://" in root:
        fs, base = pafs.FileSystem.from_uri(root)
    else:
        fs, base = pafs.LocalFileSystem(), os.path.abspath(root)
    start, end = incident.window.start - lookback, incident.window.end
    records: list[dict] = []
    for account in incident.accounts:
        for region in sorted({incident.region, "us-east-1"}):
            day = start.date()
            while day <= end.date():
                folder = f"{base.rstrip('/')}/AWSLogs/{account}/CloudTrail/{region}/{day:%Y/%m/%d}"
                for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
                    if info.is_file and info.path.endswith(".json.gz"):
                        with fs.open_input_stream(info.path, compression="gzip") as f:
                            records.extend(json.loads(f.read()).get("Records", []))
                day += timedelta(days=1)
    return changes_from_records(incident, records, lookback)


def _record_of(event: dict) -> dict:
    """The CloudTrail record a ``LookupEvents`` entry carries (its ``CloudTrailEvent`` JSON)."""
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except json.JSONDecodeError:
        record = {}
    record.setdefault("eventID", event.get("EventId"))
    record.setdefault("eventName", event.get("EventName"))
    record.setdefault("eventTime", _iso(event.get("EventTime")))
    record.setdefault("resources", [{"ARN": r.get("ResourceName")} for r in event.get("Resources", [])])
    if "Username" in event:
        record.setdefault("userIdentity", {"arn": event["Username"]})
    return record


def changes_from_records(incident: Incident, records: Iterable[dict], lookback: timedelta = LOOKBACK) -> list[Evidence]:
    """Evidence for each watched record of the incident's account and region within the window."""
    start, end = incident.window.start - lookback, incident.window.end
    names = _incident_resource_names(incident)
    seen, out = set(), []
    for r in records:
        when = _time(r.get("eventTime"))
        if r.get("eventName") not in WATCHED_EVENTS or when is None or not start <= when < end:
            continue
        if r.get("recipientAccountId") not in (None, *incident.accounts):
            continue
        if r.get("awsRegion") not in (None, incident.region, "us-east-1") or r.get("eventID") in seen:
            continue  # CloudFront is global: its changes are logged in us-east-1
        seen.add(r.get("eventID"))
        out.append(_evidence(incident, r, when, names))
    return sorted(out, key=lambda e: (str(e.facts["event_time"]), e.id))


def _evidence(incident: Incident, r: dict, when: datetime, names: set[str]) -> Evidence:
    touched = sorted(set(_mentioned(r)) & names) if names else []
    request = json.dumps(r.get("requestParameters") or {}, sort_keys=True)[:REQUEST_CHARS]
    user = (r.get("userIdentity") or {}).get("arn") or (r.get("userIdentity") or {}).get("type")
    before = incident.window.start - when
    when_text = (
        f"{before.total_seconds() / 3600:.1f} h before the incident" if before.total_seconds() > 0 else "during it"
    )
    target = touched[0] if touched else "another resource"
    return make(
        incident.id,
        "cloudtrail_event",
        str(r.get("eventID")),
        "cloudtrail",
        f"{r.get('eventName')} on {target}, {when_text}",
        resource=touched[0] if touched else None,
        event_name=r.get("eventName"),
        event_time=when.isoformat(),
        event_source=r.get("eventSource"),
        hours_before_start=round(before.total_seconds() / 3600, 2),
        touches_incident=bool(touched),
        resources=_mentioned(r),
        user=user,
        request=request,
    )


def _mentioned(r: dict) -> list[str]:
    """Resource names a record mentions: its resources' ARNs and names, and well-known request fields."""
    out = []
    for res in r.get("resources") or []:
        for key in ("ARN", "ARNPrefix", "resourceName"):
            if res.get(key):
                out.append(str(res[key]).rsplit(":", 1)[-1].rsplit("/", 1)[-1])
    params = r.get("requestParameters") or {}
    for key in ("bucketName", "id", "distributionId", "vpcEndpointId", "groupId", "service", "cluster"):
        if isinstance(params.get(key), str):
            out.append(params[key].rsplit("/", 1)[-1])
    out.extend(_flatten(params.get("VpcEndpointId") or params.get("DeleteVpcEndpointsRequest")))
    return sorted(set(out))


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    elif isinstance(value, list):
        for v in value:
            yield from _flatten(v)


def _incident_resource_names(incident: Incident) -> set[str]:
    """The short names of the incident's resources (ARNs cut to their last part), and their VPC endpoints'
    and route tables' ids are unknown here: matching by name is what the record itself can support."""
    return {e.id.rsplit(":", 1)[-1].rsplit("/", 1)[-1] for e in incident.entities} | {e.id for e in incident.entities}


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value
