"""``egress generate``: a labelled synthetic AWS estate, written exactly as AWS delivers its logs and bill.

Output layout (``DIR`` mirrors S3: each top-level folder is a bucket, paths below it are object keys):

- ``DIR/<bucket>/AWSLogs/...``      VPC flow logs (text and Parquet), CloudTrail
- ``DIR/<bucket>/s3-access-logs/...`` S3 server access logs (simple and partitioned key formats)
- ``DIR/<bucket>/cloudfront/...``   CloudFront standard logs
- ``DIR/cur-exports-<payer>/cur2/...``  CUR 2.0 export + manifest; ``DIR/cur-legacy-<acct>/...`` legacy CUR
- ``DIR/inventory/...``             describe_* snapshots, bucket and distribution configs, CloudTrail lookups
- ``DIR/labels.json``               ground truth; ``DIR/planned_activities.json`` declared planned work
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from egress_optimizer import __version__
from egress_optimizer.estate import (
    benign,
    billing,
    cloudfront_requests,
    coverage,
    flow_records,
    incidents,
    profiles,
    s3_requests,
    traffic,
)
from egress_optimizer.estate.calendar import iso
from egress_optimizer.estate.profiles import DEFAULT_PROFILE
from egress_optimizer.estate.topology import SCALES, Estate, build_estate, owner_tags
from egress_optimizer.estate.writers.cloudfront import write_cloudfront_logs
from egress_optimizer.estate.writers.cloudtrail import write_cloudtrail
from egress_optimizer.estate.writers.cur import apply_discounts, cur2_frame, write_cur2, write_legacy_cur
from egress_optimizer.estate.writers.inventory import write_inventory
from egress_optimizer.estate.writers.s3_access import write_s3_access_logs
from egress_optimizer.estate.writers.vpc_flow import write_vpc_flow_logs
from egress_optimizer.pricing import load_catalog

EDP_RATE = 0.06  # enterprise discount on every usage line
CREDIT_USD = 25.0  # a monthly promotional credit on the storefront account
MARKER = ".egress-estate.json"  # marks a folder as ours, so regenerating may replace it

Progress = Callable[[str, float], None]  # (stage description, fraction of the whole run completed)


@dataclass
class GenerateResult:
    out: Path
    estate: Estate
    incidents: list[incidents.Incident]
    counts: dict[str, dict[str, int]]
    line_items: int
    cur_cost_usd: float
    seconds: float
    start_epoch: int = 0  # first hour of the period (UTC epoch seconds)

    def summary(self) -> dict:
        return {
            "out": str(self.out),
            "seed": self.estate.seed,
            "scale": self.estate.scale,
            "accounts": len(self.estate.accounts),
            "vpcs": len(self.estate.vpcs),
            "enis": len(self.estate.enis),
            "incidents": len(self.incidents),
            "files": self.counts,
            "cur_line_items": self.line_items,
            "cur_cost_usd": round(self.cur_cost_usd, 2),
            "seconds": round(self.seconds, 2),
        }


def parse_start(start: str) -> int:
    try:
        dt = datetime.strptime(start, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"start date {start!r} is not YYYY-MM-DD") from None
    return int(dt.timestamp())


def _rng(seed: int, name: str) -> np.random.Generator:
    """An independent stream per component, so adding one component never shifts another's numbers."""
    key = [seed] + [ord(c) for c in name]
    return np.random.default_rng(np.random.SeedSequence(key))


def generate(
    out: Path,
    days: int,
    seed: int,
    scale: str,
    start: str | None = None,
    progress: Progress | None = None,
    profile: str = DEFAULT_PROFILE,
) -> GenerateResult:
    """Write an estate into ``out``; ``start`` defaults to the profile's first day."""
    prof = profiles.profile(profile)
    start = start or prof.default_start
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if not 1 <= days <= 366:
        raise ValueError("days must be between 1 and 366")
    t_begin = time.perf_counter()
    say = progress or (lambda stage, frac: None)
    start_epoch = parse_start(start)
    hours = days * 24
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise ValueError(f"{out} is not empty and was not written by `egress generate`; refusing to replace it")
        # Regenerating replaces the previous estate rather than mixing two.
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    marker = {"seed": seed, "scale": scale, "days": days, "start": start, "profile": profile}
    (out / MARKER).write_text(json.dumps(marker) + "\n")
    catalog = load_catalog()

    say("building the organisation", 0.02)
    estate = build_estate(seed, scale)
    gaps = coverage.choose(estate, hours, _rng(seed, "gaps")) if prof.coverage_gaps else coverage.Gaps()
    streams = traffic.build_streams(estate, _rng(seed, "streams"))
    origin_streams = traffic.add_alb_origin_streams(estate, streams)
    incs = incidents.schedule(estate, streams, hours, _rng(seed, "incidents"))
    spikes = incidents.legitimate_spikes(estate, start_epoch, hours, _rng(seed, "spikes"))
    spikes += benign.bursts(estate, streams, hours, _rng(seed, "bursts"), prof.bursts_per_week)
    shifts = benign.run_rate_changes(estate, streams, hours, _rng(seed, "run-rate"), prof.run_rate_changes)
    say("modelling traffic", 0.06)
    vol = traffic.baseline_volumes(estate, streams, start_epoch, hours, _rng(seed, "volumes"), spikes + shifts, prof)
    incidents.apply(incs, estate, streams, vol, _rng(seed, "incident-volumes"))
    cf = cloudfront_requests.build_cloudfront_requests(estate, streams, vol, incs, start_epoch, _rng(seed, "cf"))
    cloudfront_requests.set_origin_volumes(estate, streams, vol, cf, origin_streams)
    say("generating S3 requests", 0.15)
    s3 = s3_requests.build_s3_requests(estate, streams, vol, incs, cf, start_epoch, _rng(seed, "s3"))
    # Replication lag can push a replica past the end of the period; the period's logs end with it.
    s3["t"] = s3.t.clip(upper=start_epoch + hours * 3600 - 1)
    eni_cols = flow_records.eni_lookup(estate, [e.id for e in estate.enis])
    counts: dict[str, dict[str, int]] = {"vpc_flow": {"objects": 0, "records": 0}}
    # A day at a time: flow records are the bulk of the data, and memory must not grow with the period.
    for day in range(days):
        say(f"flow logs, day {day + 1} of {days}", 0.22 + 0.5 * day / days)
        records, _ = flow_records.build_flow_records(
            estate, streams, vol, start_epoch, _rng(seed, f"flows-{day}"), hour_range=(day * 24, (day + 1) * 24)
        )
        written = write_vpc_flow_logs(out, estate, records, eni_cols, start_epoch, gaps)
        for k in written:
            counts["vpc_flow"][k] += written[k]
        del records
    say("writing S3 access logs", 0.72)
    counts["s3_access"] = write_s3_access_logs(out, estate, s3, start_epoch, gaps.duplicated)
    say("writing CloudFront logs", 0.76)
    counts["cloudfront"] = write_cloudfront_logs(out, estate, cf)

    say("pricing usage and writing the CUR", 0.82)
    unlogged_rng = _rng(seed, "unlogged") if prof.billing_adjustments else None
    usage = billing.build_usage(estate, catalog, streams, vol, s3, cf, start_epoch, unlogged_rng)
    items = billing.price(usage, catalog, estate.payer.id, start_epoch)
    tags = _resource_tags(estate)
    az_of = {e.resource_id: f"{e.region}{'abc'[e.az_index]}" for e in estate.enis if e.kind == "ec2"}
    cur = cur2_frame(estate, items, start_epoch, tags, az_of)
    if prof.billing_adjustments:
        cur = apply_discounts(cur, EDP_RATE, {web_account(estate): CREDIT_USD})
    cur_keys = write_cur2(out, estate, cur)
    legacy_account = web_account(estate)
    legacy_keys = write_legacy_cur(out, estate, cur, legacy_account)
    counts["cur"] = {"objects": len(cur_keys) + len(legacy_keys), "records": len(cur)}

    say("computing incident impact", 0.9)
    billing.incident_impacts(usage, incs, catalog, estate.payer.id, start_epoch, items)
    say("writing inventory and CloudTrail", 0.95)
    write_cloudtrail(out, estate, incs, start_epoch, hours, _rng(seed, "cloudtrail"))
    write_inventory(out, estate, incs, start_epoch, start_epoch + hours * 3600, hours)
    extra = {
        "profile": profile,
        "run_rate_changes": [_change_label(c, start_epoch) for c in shifts],
        "coverage_gaps": coverage.labels(gaps, estate, items, incs, start_epoch),
        "billing": _billing_label(estate, items) if prof.billing_adjustments else {},
    }
    planned = _planned(incs, start_epoch, prof.coarse_planning, _rng(seed, "planning"))
    if prof.coarse_planning:
        planned += _declared_late(estate, spikes, start_epoch)
    _write_labels(out, estate, incs, spikes, planned, start_epoch, hours, days, catalog.version, extra)
    result = GenerateResult(
        out, estate, incs, counts, len(cur), float(items.cost.sum()), time.perf_counter() - t_begin, start_epoch
    )
    say("done", 1.0)
    return result


def _resource_tags(estate: Estate) -> dict[str, dict[str, str]]:
    tags: dict[str, dict[str, str]] = {}
    for e in estate.enis:
        tags[billing.resource_arn(estate, e)] = e.tags
        tags[e.resource_id] = e.tags
    for n in estate.nats:
        tags[f"arn:aws:ec2:{n.region}:{n.account}:natgateway/{n.id}"] = estate.eni(n.eni_id).tags
    for b in estate.buckets:
        tags[b.name] = b.tags
    for d in estate.distributions:
        tags[f"arn:aws:cloudfront::{d.account}:distribution/{d.id}"] = d.tags
    for svc in billing.UNLOGGED_SERVICES:
        a = estate.account_named(svc.account_name)
        tags[billing.service_resource(estate, svc)] = owner_tags(a.team, a.owner, svc.product.lower())
    return tags


def web_account(estate: Estate) -> str:
    return estate.account_named("prod-web").id


def _spike_place(estate: Estate, s: dict) -> dict:
    """Where a benign spike happens: its accounts, regions and the resources it lifts."""
    if "resources" in s:
        return {"accounts": s["accounts"], "regions": s["regions"], "resources": s["resources"]}
    enis = [estate.eni(x) for x in sorted(s["enis"])]
    return {
        "accounts": sorted({e.account for e in enis}),
        "regions": sorted({e.region for e in enis}),
        "resources": [e.resource_id for e in enis] + [e.id for e in enis],
    }


def _change_label(c: dict, start_epoch: int) -> dict:
    return {
        "kind": c["kind"],
        "start": iso(start_epoch + c["start_hour"] * 3600),
        "end": iso(start_epoch + c["end_hour"] * 3600),
        "factor": round(c["factor"], 3),
        "accounts": c.get("accounts", []),
        "regions": c.get("regions", []),
        "resources": c.get("resources", []),
    }


def _billing_label(estate: Estate, items) -> dict:
    services = []
    for svc in billing.UNLOGGED_SERVICES:
        resource = billing.service_resource(estate, svc)
        services.append(
            {
                "product": svc.product,
                "account": estate.account_named(svc.account_name).id,
                "region": svc.region,
                "to_region": svc.to_region,
                "resource": resource,
                "list_usd": round(float(items.cost[items.resource_id == resource].sum()), 4),
            }
        )
    return {
        "edp_discount_rate": EDP_RATE,
        "credits_usd_per_month": {web_account(estate): CREDIT_USD},
        "unlogged_services": services,
        "rounding": "line-item costs rounded to 10 decimal places",
        "free_tier": "100 GB/month of internet egress shared by every account of the organisation",
    }


def _planned(incs: list[incidents.Incident], start_epoch: int, coarse: bool, rng: np.random.Generator) -> list[dict]:
    """Planned work as declared. Clean: the exact window and resources. Coarse, as people declare it: the whole
    account and a window hours wider than the work (and ``_declared_late``: one declared after it started)."""
    out = []
    for inc in (i for i in incs if i.planned):
        start, end = start_epoch + inc.start_hour * 3600, start_epoch + inc.end_hour * 3600
        item = {
            "id": f"plan-{inc.id}",
            "declared_at": iso(start - 2 * 86400),
            "start": iso(start - 3600),
            "end": iso(end + 3600),
            "accounts": inc.accounts,
            "regions": inc.regions,
            "resources": inc.resources,
            "ticket": inc.params.get("ticket"),
            "description": "Bulk copy of curated tables from us-east-1 to us-west-2 for the analytics migration",
        }
        if coarse:
            early, late = int(rng.integers(2, 9)), int(rng.integers(4, 25))
            item.update(
                start=iso(start - early * 3600),
                end=iso(end + late * 3600),
                regions=[],
                resources=[],
                declared_at=iso(start - 86400),
            )
        out.append(item)
    return out


def _declared_late(estate: Estate, spikes: list[dict], start_epoch: int) -> list[dict]:
    """The first batch job (else the first burst), declared as planned work two hours after it began (the detector
    takes a declaration made after the start as feedback, not as a plan)."""
    bursts = sorted((s for s in spikes if "accounts" in s), key=lambda s: (s["kind"] != "batch_job", s["start_hour"]))
    if not bursts:
        return []
    job = bursts[0]
    start, end = start_epoch + job["start_hour"] * 3600, start_epoch + job["end_hour"] * 3600
    return [
        {
            "id": f"plan-late-{job['kind']}-{job['start_hour']}",
            "declared_at": iso(start + 2 * 3600),
            "start": iso(start - 3600),
            "end": iso(end + 3 * 3600),
            "accounts": job["accounts"],
            "regions": [],
            "resources": [],
            "ticket": None,
            "description": "Ad-hoc reprocessing job (filed after it had started)",
        }
    ]


def _write_labels(
    out: Path,
    estate: Estate,
    incs: list[incidents.Incident],
    spikes: list[dict],
    planned: list[dict],
    start_epoch: int,
    hours: int,
    days: int,
    price_version: str,
    extra: dict | None = None,
) -> None:
    items = []
    for inc in incs:
        root, remediation = incidents.ROOT_CAUSE[inc.kind]
        start, end = start_epoch + inc.start_hour * 3600, start_epoch + inc.end_hour * 3600
        item = {
            "id": inc.id,
            "kind": inc.kind,
            "shape": inc.shape,
            "planned": inc.planned,
            "start": iso(start),
            "end": iso(end),
            "duration_hours": inc.end_hour - inc.start_hour,
            "accounts": inc.accounts,
            "regions": inc.regions,
            "resources": inc.resources,
            "expected_root_cause": root,
            "expected_remediation": remediation,
            "dollar_impact_usd": inc.dollar_impact_usd,
            "dollar_impact_per_day_usd": inc.dollar_impact_per_day_usd,
            "magnitude_pct": inc.magnitude_pct,
            "small": inc.magnitude_pct is not None and inc.magnitude_pct <= 20,
            "change_event_ids": inc.change_events,
            "details": {k: v for k, v in inc.params.items() if k not in ("moved_from",)},
        }
        if inc.kind == "public_s3_exfiltration":
            item["details"]["adversarial_text_in_logs"] = True
        items.append(item)
    labels = {
        "generator": {"name": "egress_optimizer.estate", "version": __version__, "price_table": price_version},
        "estate": {
            "seed": estate.seed,
            "scale": estate.scale,
            "days": days,
            "start": iso(start_epoch),
            "end": iso(start_epoch + hours * 3600),
            "payer_account": estate.payer.id,
            "accounts": {a.id: a.name for a in estate.accounts},
            "regions": sorted({v.region for v in estate.vpcs}),
        },
        "incidents": items,
        "planned_activities": planned,
        "benign_events": [
            {
                "kind": s["kind"],
                "start": iso(start_epoch + s["start_hour"] * 3600),
                "end": iso(start_epoch + s["end_hour"] * 3600),
                "factor": round(s["factor"], 3),
                "traffic": sorted(s["kinds"]),
                **_spike_place(estate, s),
            }
            for s in spikes
        ],
        **(extra or {}),
        "notes": "dollar_impact_usd = bill with the incident minus bill without it (list prices, tiers applied); "
        "magnitude_pct = incident bytes over the affected series' own bytes in the same window.",
    }
    (out / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
    (out / "planned_activities.json").write_text(json.dumps({"planned_activities": planned}, indent=2) + "\n")
