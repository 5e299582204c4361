"""The alert state table (DynamoDB, hash key ``incident_id``): what was sent for each incident and what people
said about it.

One item per incident: the severity last paged (``notified_rank``) and the total it showed, its route and Slack
message (channel id and ts), which channels delivered which severity (``sent``), acknowledged / snoozed /
planned, a hold's end, the latest incident (JSON, for the digest and for held alerts) and a TTL
(``expires_at``, epoch seconds; enable TTL on it).

Concurrency: a run claims the item before sending (a conditional write on the ``version`` it read, refused while
another run's claim is live), records each channel as soon as it delivered (conditioned on still holding the
claim) and commits (version + 1, claim released). Two runs for one incident cannot both page: the second one's
claim is refused and it fails with ``Busy``, to be retried when the first has committed (it then finds the page
recorded). A run that dies holding a claim loses it after ``LEASE_SECONDS``, and ``sent`` lets the next run
skip the channels already delivered. Button presses bump the version too, so a run that read before one
decides again.

Other items share the table under prefixed keys: ``suppress#<resource key>`` (suppression windows recorded by
"This was planned") and ``digest#<route>#<date>`` (one digest per route and day).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from egress_optimizer.errors import InputError

LEASE_SECONDS = 120  # longer than a run's deliveries with their retries (the Lambda's timeout is 60 s)
KEEP_SECONDS = 35 * 24 * 3600  # items outlive a month's digests and re-notifications, then TTL removes them
SUPPRESS, DIGEST = "suppress#", "digest#"


class Busy(Exception):
    """Another run is delivering this incident's alert (or took over the claim): retry later."""


class Conflict(Exception):
    """The item changed since it was read: read it again and decide again."""


@dataclass(frozen=True)
class AlertState:
    incident_id: str
    version: int = 0
    notified_rank: int = -1
    total_usd: float = 0.0
    severity: str = ""
    route: str | None = None
    slack_channel: str | None = None
    slack_ts: str | None = None
    sent: dict[str, int] = field(default_factory=dict)
    outcome: str = ""
    reason: str = ""
    acknowledged_by: str | None = None
    snoozed_until: float = 0.0
    planned_by: str | None = None
    held_until: float = 0.0
    first_seen: float = 0.0
    last_seen: float = 0.0
    claim_until: float = 0.0
    incident: str | None = None  # the latest incident, JSON
    extras: str | None = None  # what the caller added to it (recommendations, approval), JSON

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> AlertState:
        names = {f.name for f in fields(cls)}
        return cls(**{k: _plain(v) for k, v in item.items() if k in names})


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _dynamo(value: Any) -> Any:
    """DynamoDB numbers are Decimals (floats are refused)."""
    if isinstance(value, float):
        return Decimal(str(round(value, 6)))
    if isinstance(value, dict):
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dynamo(v) for v in value]
    return value


def _refused(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


Path = str | tuple[str, ...]
CONDITION_NAMES = {"#id": "incident_id", "#ver": "version", "#cb": "claim_by", "#cu": "claim_until", "#done": "done_at"}


@dataclass
class _Update:
    """An UpdateItem request from plain values: every name and value is a placeholder, so ids from logs and
    tags never become expression syntax. Conditions spell attributes as ``CONDITION_NAMES`` does."""

    sets: dict[Path, Any] = field(default_factory=dict)
    defaults: dict[Path, Any] = field(default_factory=dict)  # set only when absent
    appends: dict[str, list[Any]] = field(default_factory=dict)  # appended to a list (created when absent)
    add: dict[str, int] = field(default_factory=dict)
    remove: tuple[str, ...] = ()

    def kwargs(self, condition: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
        names = {k: v for k, v in CONDITION_NAMES.items() if k in condition}
        vals = {k: _dynamo(v) for k, v in (values or {}).items()}

        def ref(path: Path) -> str:
            parts = []
            for part in (path,) if isinstance(path, str) else path:
                names[f"#n{len(names)}"] = part
                parts.append(f"#n{len(names) - 1}")
            return ".".join(parts)

        def val(v: Any) -> str:
            vals[f":u{len(vals)}"] = _dynamo(v)
            return f":u{len(vals) - 1}"

        sets = [f"{ref(k)} = {val(v)}" for k, v in self.sets.items()]
        sets += [f"{(r := ref(k))} = if_not_exists({r}, {val(v)})" for k, v in self.defaults.items()]
        for k, v in self.appends.items():
            sets.append(f"{(r := ref(k))} = list_append(if_not_exists({r}, {val([])}), {val(v)})")
        clauses = [f"SET {', '.join(sets)}"] if sets else []
        clauses += [f"ADD {', '.join(f'{ref(k)} {val(v)}' for k, v in self.add.items())}"] if self.add else []
        clauses += [f"REMOVE {', '.join(ref(k) for k in self.remove)}"] if self.remove else []
        out: dict[str, Any] = {"UpdateExpression": " ".join(clauses), "ExpressionAttributeNames": names}
        if condition:
            out["ConditionExpression"] = condition
        if vals:
            out["ExpressionAttributeValues"] = vals
        return out


class StateTable:
    """The table, through the operations alerts need (``table`` is a boto3 DynamoDB ``Table``)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def _update(self, key: str, update: _Update, condition: str, values: dict[str, Any] | None = None) -> None:
        """One UpdateItem (``condition`` may be empty: no condition)."""
        self.table.update_item(Key={"incident_id": key}, **update.kwargs(condition, values))

    def load(self, incident_id: str) -> AlertState | None:
        item = self.table.get_item(Key={"incident_id": incident_id}, ConsistentRead=True).get("Item")
        return AlertState.from_item(item) if item else None

    def claim(self, incident_id: str, seen: AlertState | None, owner: str) -> None:
        """Take the item for one run; ``Conflict`` when it changed since ``seen`` was read or is claimed. Leases
        run on the wall clock, whatever time the run decides for (a redelivered tick keeps its hour)."""
        now = time.time()
        if seen is None:
            condition, values = "attribute_not_exists(#id)", {}
        else:
            condition = "#ver = :ver AND (attribute_not_exists(#cu) OR #cu < :now)"
            values = {":ver": seen.version, ":now": now}
        update = _Update(
            sets={"claim_by": owner, "claim_until": now + LEASE_SECONDS},
            defaults={"version": 0, "notified_rank": -1, "sent": {}, "first_seen": now},
        )
        try:
            self._update(incident_id, update, condition, values)
        except ClientError as exc:
            if _refused(exc):
                raise Conflict(incident_id) from None
            raise

    def mark_sent(self, incident_id: str, owner: str, channel: str, rank: int, extra: dict[str, Any]) -> None:
        """Record one channel's delivery at once, so a later run does not send it again."""
        self._owned(incident_id, owner, _Update(sets={("sent", channel): rank, **extra}))

    def commit(self, incident_id: str, owner: str, attrs: dict[str, Any], now: float) -> None:
        attrs = {**attrs, "last_seen": now, "expires_at": int(now) + KEEP_SECONDS}
        self._owned(incident_id, owner, _Update(sets=attrs, add={"version": 1}, remove=("claim_by", "claim_until")))

    def _owned(self, incident_id: str, owner: str, update: _Update) -> None:
        try:
            self._update(incident_id, update, "#cb = :owner", {":owner": owner})
        except ClientError as exc:
            if _refused(exc):
                raise Busy(f"incident {incident_id}: another run took over this alert") from None
            raise

    def release(self, incident_id: str, owner: str) -> None:
        """Give up a claim after a failure, so the retry need not wait for the lease to end."""
        try:
            self._update(incident_id, _Update(remove=("claim_by", "claim_until")), "#cb = :o", {":o": owner})
        except ClientError as exc:
            if not _refused(exc):
                raise

    def press(self, incident_id: str, attrs: dict[str, Any]) -> None:
        """A person's answer (acknowledged, snoozed, planned) on an incident that was alerted."""
        try:
            self._update(incident_id, _Update(sets=attrs, add={"version": 1}), "attribute_exists(#id)")
        except ClientError as exc:
            if _refused(exc):
                raise InputError(f"no alert was sent for incident {incident_id}") from None
            raise

    def add_window(self, key: str, window: dict[str, Any], now: float) -> None:
        """Append a suppression window for a resource key."""
        expires = int(max(window["end"], now)) + KEEP_SECONDS
        update = _Update(sets={"expires_at": expires}, appends={"windows": [window]})
        self._update(SUPPRESS + key, update, "")

    def windows(self, keys: list[str]) -> list[dict[str, Any]]:
        """The suppression windows recorded for these resource keys (each with its ``resource`` key)."""
        found: list[dict[str, Any]] = []
        client, name = self.table.meta.client, self.table.name
        for i in range(0, len(keys), 100):
            request: dict[str, Any] | None = {
                name: {"Keys": [{"incident_id": SUPPRESS + k} for k in keys[i : i + 100]], "ConsistentRead": True}
            }
            while request:
                reply = client.batch_get_item(RequestItems=request)
                for item in reply["Responses"].get(name, []):
                    key = item["incident_id"].removeprefix(SUPPRESS)
                    found += [{**_plain(w), "resource": key} for w in item.get("windows", [])]
                request = reply.get("UnprocessedKeys") or None
        return found

    def scan(self, condition: Any) -> list[AlertState]:
        """Alert items (not suppressions or digest markers) matching a boto3 ``Attr`` condition."""
        from boto3.dynamodb.conditions import Attr

        kwargs: dict[str, Any] = {"FilterExpression": condition & Attr("incident").exists(), "ConsistentRead": True}
        items: list[AlertState] = []
        while True:
            page = self.table.scan(**kwargs)
            items += [AlertState.from_item(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def once(self, marker: str, owner: str) -> bool:
        """Claim a once-only job (a route's digest of a day); False when it is done or being done."""
        now = time.time()
        condition = (
            "attribute_not_exists(#id) OR (attribute_not_exists(#done) AND (attribute_not_exists(#cu) OR #cu < :now))"
        )
        claim = {"claim_by": owner, "claim_until": now + LEASE_SECONDS, "expires_at": int(now) + 3 * 86400}
        update = _Update(sets=claim)
        try:
            self._update(DIGEST + marker, update, condition, {":now": now})
        except ClientError as exc:
            if _refused(exc):
                return False
            raise
        return True

    def done(self, marker: str, owner: str, now: float) -> None:
        self._owned(DIGEST + marker, owner, _Update(sets={"done_at": now}, remove=("claim_by", "claim_until")))

    def forget(self, marker: str, owner: str) -> None:
        """Give up a once-only job that failed, so the retry may do it."""
        self.release(DIGEST + marker, owner)
