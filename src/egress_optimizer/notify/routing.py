"""Where an incident's alert goes: one route per team (a Slack channel, an SNS topic for email, webhooks, quiet
hours), chosen by the team of the resources that cost the most (as attribution tagged them, else their live
``team`` or ``owner`` tag, which the response workflow reads), and a default route for untagged resources and
teams without a route of their own. A route's name may be a team's or an owner's.

The routing file (YAML, ``ALERT_ROUTING_FILE``)::

    default: {slack_channel: C0ALERTS, email_topic_arn: "arn:aws:sns:...:egress-alerts", webhooks: [pager]}
    teams:
      payments: {slack_channel: C0PAYMENTS, email_topic_arn: "arn:aws:sns:...:payments-alerts"}
      data: {slack_channel: C0DATA, quiet_hours: {start: "20:00", end: "08:00", timezone: Europe/Berlin}}
    webhooks:
      pager: {url: "https://events.example.com/egress", secret_arn: "arn:aws:secretsmanager:..."}
    quiet_hours: {start: "22:00", end: "07:00", timezone: UTC}   # every route's unless it has its own
    digest: {hour: 9, timezone: UTC}                               # the daily digest, per route
    suppress:                                                      # known work: nothing inside pages
      - {resource: "nat-0abc*", account: "111111111111", start: 2026-10-01T00:00:00Z, end: 2026-10-02T00:00:00Z,
         reason: load test}

Without a file the default route comes from the environment: ``SLACK_ALERT_CHANNEL``, ``ALERTS_TOPIC_ARN``,
``ALERT_WEBHOOK_URL`` with ``ALERT_WEBHOOK_SECRET_ARN``. A route that would deliver nowhere is an error, not a
silent drop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.errors import InputError
from egress_optimizer.notify.alert_policy import QuietHours, Window
from egress_optimizer.notify.webhook import Webhook

DEFAULT = "default"
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QuietSpec(_Strict):
    start: str = Field(pattern=HHMM)
    end: str = Field(pattern=HHMM)
    timezone: str = "UTC"


class RouteSpec(_Strict):
    slack_channel: str | None = None
    email_topic_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w.-]+$")
    webhooks: list[str] = Field(default_factory=list)
    quiet_hours: QuietSpec | None = None


class WebhookSpec(_Strict):
    url: str
    secret_arn: str = Field(pattern=r"^arn:aws[a-z-]*:secretsmanager:")


class DigestSpec(_Strict):
    hour: int = Field(9, ge=0, le=23)
    timezone: str = "UTC"


class SuppressSpec(_Strict):
    resource: str = Field(min_length=1, description="A glob on resource keys (resource ids, usage:...).")
    account: str | None = None
    start: datetime
    end: datetime
    reason: str = "suppression window"


class RoutingFile(_Strict):
    default: RouteSpec
    teams: dict[str, RouteSpec] = Field(default_factory=dict)
    webhooks: dict[str, WebhookSpec] = Field(default_factory=dict)
    quiet_hours: QuietSpec | None = None
    digest: DigestSpec | None = None
    suppress: list[SuppressSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class Route:
    name: str
    slack_channel: str | None = None
    email_topic_arn: str | None = None
    webhooks: tuple[Webhook, ...] = ()
    quiet: QuietHours | None = None

    @property
    def channels(self) -> list[str]:
        """Delivery channels, as the state table names them."""
        out = ["slack"] if self.slack_channel else []
        out += ["email"] if self.email_topic_arn else []
        return out + [f"webhook:{w.name}" for w in self.webhooks]


@dataclass(frozen=True)
class Digest:
    hour: int
    zone: ZoneInfo

    def due(self, now: datetime) -> bool:
        return now.astimezone(self.zone).hour == self.hour

    def day(self, now: datetime) -> str:
        return now.astimezone(self.zone).date().isoformat()


@dataclass(frozen=True)
class Routes:
    default: Route
    teams: dict[str, Route] = field(default_factory=dict)  # by lower-case team name
    digest: Digest | None = None
    suppressions: tuple[Window, ...] = ()

    @property
    def all(self) -> list[Route]:
        return [self.default, *self.teams.values()]

    def route_for(self, incident: Incident, owner_tags: Mapping[str, Mapping[str, str]] | None = None) -> Route:
        """The route of the first team, by impact, that has one: each resource's team as attribution named it,
        then its live ``team`` and ``owner`` tags (``owner_tags``, resource -> tags, from the response
        workflow); the default route otherwise. A routing file may name routes by owner as well as by team."""
        ranked = sorted(incident.entities, key=lambda e: -e.impact_dollars)
        names: list[str] = []
        for e in ranked:
            tags = _tags_of(e.id, owner_tags or {})
            names += [n for n in (e.team, tags.get("team"), tags.get("owner")) if n]
        for name in names + list(incident.teams):
            if name.lower() in self.teams:
                return self.teams[name.lower()]
        return self.default

    def named(self, name: str | None) -> Route | None:
        """A route by name (the one an incident was first alerted on); None when the file no longer has it."""
        return self.default if name == DEFAULT else self.teams.get((name or "").lower())


def _tags_of(resource: str, owner_tags: Mapping[str, Mapping[str, str]]) -> Mapping[str, str]:
    """A resource's tags, whether it is named by ARN or by its id (the ARN's last part)."""
    for key, tags in owner_tags.items():
        if key == resource or key.rsplit("/", 1)[-1] == resource.rsplit("/", 1)[-1]:
            return tags
    return {}


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"routing: unknown time zone {name!r}") from None


def _quiet(spec: QuietSpec | None) -> QuietHours | None:
    if spec is None:
        return None
    return QuietHours(time.fromisoformat(spec.start), time.fromisoformat(spec.end), _zone(spec.timezone))


def _route(name: str, spec: RouteSpec, hooks: dict[str, Webhook], quiet: QuietHours | None) -> Route:
    missing = [h for h in spec.webhooks if h not in hooks]
    if missing:
        raise InputError(f"routing: route {name!r} names undefined webhook(s) {', '.join(missing)}")
    own = _quiet(spec.quiet_hours) if spec.quiet_hours else quiet
    route = Route(name, spec.slack_channel, spec.email_topic_arn, tuple(hooks[h] for h in spec.webhooks), own)
    if not route.channels:
        raise InputError(f"routing: route {name!r} delivers nowhere (no Slack channel, email topic or webhook)")
    return route


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def build(doc: RoutingFile) -> Routes:
    hooks = {n: Webhook(n, h.url, h.secret_arn) for n, h in doc.webhooks.items()}
    quiet = _quiet(doc.quiet_hours)
    teams = {n.lower(): _route(n.lower(), s, hooks, quiet) for n, s in doc.teams.items()}
    if DEFAULT in teams:
        raise InputError(f"routing: {DEFAULT!r} is the default route's name, not a team's")
    windows = tuple(Window(s.resource, _aware(s.start), _aware(s.end), s.reason, s.account) for s in doc.suppress)
    digest = Digest(doc.digest.hour, _zone(doc.digest.timezone)) if doc.digest else None
    return Routes(_route(DEFAULT, doc.default, hooks, quiet), teams, digest, windows)


def load(path: str | Path) -> Routes:
    """The routing file; ``InputError`` (one line) when it is missing or invalid."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return build(RoutingFile.model_validate(raw))
    except OSError as exc:
        raise InputError(f"routing file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"routing file {path} is not YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
        raise InputError(f"routing file {path}: {where}: {first['msg']}") from None


def from_env() -> Routes:
    """``ALERT_ROUTING_FILE``, or a default route from the environment alone."""
    if os.environ.get("ALERT_ROUTING_FILE"):
        return load(os.environ["ALERT_ROUTING_FILE"])
    env = os.environ.get
    hook = {"url": env("ALERT_WEBHOOK_URL"), "secret_arn": env("ALERT_WEBHOOK_SECRET_ARN", "")}
    doc = {
        "default": {
            "slack_channel": env("SLACK_ALERT_CHANNEL") or None,
            "email_topic_arn": env("ALERTS_TOPIC_ARN") or None,
            "webhooks": [DEFAULT] if hook["url"] else [],
        },
        "webhooks": {DEFAULT: hook} if hook["url"] else {},
    }
    try:
        return build(RoutingFile.model_validate(doc))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"alert settings: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
