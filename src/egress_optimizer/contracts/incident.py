"""The incident contract: what detection emits and the response workflow, alerts, remediation and reports read.

An incident is one egress-cost anomaly of one account and region: its window, how sure we are (score,
severity), what it cost beyond what was expected (impact), its root causes in the shape AWS Cost Anomaly
Detection uses (linked account, region, service, usage type and each one's dollar contribution, with CAD's
own field names), and what CAD cannot say: the resources that moved (typed entities with their bytes and
dollars), references to the evidence, and a status people change.

Dollar figures are US dollars at list price. ``schema_version`` changes when a field is removed or changes
meaning (a major version) or when one is added (a minor one); readers accept any minor version of theirs.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.1"  # 1.1 added Entity.via


class Severity(str, Enum):  # noqa: UP042 - the str mixin keeps the JSON value a plain string
    """From the excess cost per day: critical >= $1,000, high >= $100, medium >= $10, else low."""

    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class Status(str, Enum):  # noqa: UP042
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"
    planned = "planned"
    false_positive = "false_positive"


class EntityKind(str, Enum):  # noqa: UP042
    network_interface = "network_interface"
    instance = "instance"
    nat_gateway = "nat_gateway"
    vpc_endpoint = "vpc_endpoint"
    load_balancer = "load_balancer"
    ecs_task = "ecs_task"
    s3_bucket = "s3_bucket"
    cloudfront_distribution = "cloudfront_distribution"
    transit_gateway_attachment = "transit_gateway_attachment"
    other = "other"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class Window(_Model):
    start: datetime = Field(description="First hour of the incident (UTC).")
    end: datetime = Field(description="End of its last hour (UTC), exclusive.")
    detected_at: datetime = Field(description="When the hourly run could first report it (UTC).")


class Impact(_Model):
    expected_usd: float = Field(description="What the involved series' baselines predicted over the window.")
    actual_usd: float = Field(description="What they cost over the window.")
    total_usd: float = Field(description="actual - expected over the whole window (the total, not a rate).")
    percentage: float | None = Field(description="total / expected x 100; null when nothing was expected.")
    per_day_usd: float = Field(description="The total as a daily rate: total / window hours x 24.")
    max_hourly_usd: float = Field(description="The largest excess of a single hour.")


class RootCauseImpact(_Model):
    contribution: float = Field(description="Dollars of the incident's total impact this root cause accounts for.")


class RootCause(_Model):
    """As AWS Cost Anomaly Detection spells a root cause (its SNS and EventBridge alerts use these names)."""

    linked_account: str = Field(alias="linkedAccount")
    linked_account_name: str | None = Field(default=None, alias="linkedAccountName")
    region: str
    service: str = Field(description="The CUR's product code, e.g. AmazonEC2.")
    usage_type: str = Field(alias="usageType", description="As the CUR spells it, e.g. USE1-NatGateway-Bytes.")
    impact: RootCauseImpact


class Entity(_Model):
    """A resource whose data transfer moved, on one path (destination class and peer)."""

    kind: EntityKind
    id: str = Field(description="The resource's id or ARN as attribution names it.")
    account: str
    region: str
    destination_class: str = Field(description="Where the bytes went (attribution.destinations).")
    peer: str | None = Field(description="Peer region, cloud provider or on-premises site; null when none.")
    via: str | None = Field(
        default=None,
        description="The gateway its bytes crossed to reach the peer, when that is not the entity itself (the NAT "
        "gateway an instance reaches in another AZ); null when none.",
    )
    team: str | None = None
    bytes: int = Field(ge=0, description="Bytes over the incident window.")
    dollars: float = Field(description="What those bytes cost.")
    expected_dollars: float
    impact_dollars: float = Field(description="dollars - expected_dollars.")
    share: float = Field(description="This entity's share of the incident's total impact (0-1; 0 when none).")
    cache_hit_ratio: float | None = Field(default=None, description="CloudFront: edge hit ratio in the window.")
    cache_hit_ratio_before: float | None = Field(default=None, description="CloudFront: over the day before.")


class EvidenceRef(_Model):
    """Where a piece of evidence lives; ``id`` is stable for the same incident and evidence."""

    id: str
    kind: str = Field(description="e.g. anomalous_series (detector output), later cloudtrail_event, bucket_policy.")
    source: str = Field(description="The lake table or AWS API that holds it.")
    summary: str
    query: dict[str, str] = Field(default_factory=dict, description="How to fetch it from the source.")


class Truncation(_Model):
    """What was left out to keep an incident within a transport's size limit (0 when nothing)."""

    entities: int = 0
    root_causes: int = 0
    evidence: int = 0


class Incident(_Model):
    schema_version: Literal["1.0", "1.1"] = SCHEMA_VERSION  # every minor version of 1 reads
    id: str
    source: Literal["egress-optimizer", "aws-cost-anomaly-detection"] = "egress-optimizer"
    accounts: list[str] = Field(min_length=1)
    region: str
    window: Window
    severity: Severity
    score: float = Field(ge=0, le=1, description="The detector's largest score over the incident (0-1).")
    impact: Impact
    root_causes: list[RootCause]
    entities: list[Entity]
    destinations: list[str]
    teams: list[str]
    evidence: list[EvidenceRef]
    status: Status = Status.open
    truncated: Truncation = Field(default_factory=Truncation)

    @property
    def account(self) -> str:
        return self.accounts[0]

    def to_json(self) -> dict:
        """The JSON document (field names as the schema spells them)."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, doc: dict | str | bytes) -> Incident:
        if isinstance(doc, dict):
            return cls.model_validate(doc)
        return cls.model_validate_json(doc)

    def within(self, max_bytes: int) -> Incident:
        """This incident cut down, least important first, until its JSON fits in ``max_bytes``: the
        smallest entities, then evidence, then the smallest root causes; counts of what was cut go in
        ``truncated``. Raises ValueError when even the bare incident does not fit."""
        current = self
        while len(current.model_dump_json(by_alias=True).encode()) > max_bytes:
            t = current.truncated
            if len(current.entities) > 1:
                cut = max(1, len(current.entities) // 4)
                current = current.model_copy(
                    update={
                        "entities": current.entities[:-cut],
                        "truncated": t.model_copy(update={"entities": t.entities + cut}),
                    }
                )
            elif current.evidence:
                current = current.model_copy(
                    update={
                        "evidence": [],
                        "truncated": t.model_copy(update={"evidence": t.evidence + len(current.evidence)}),
                    }
                )
            elif len(current.root_causes) > 1:
                cut = max(1, len(current.root_causes) // 4)
                current = current.model_copy(
                    update={
                        "root_causes": current.root_causes[:-cut],
                        "truncated": t.model_copy(update={"root_causes": t.root_causes + cut}),
                    }
                )
            else:
                raise ValueError(f"incident {self.id} does not fit in {max_bytes} bytes even without its details")
        return current
