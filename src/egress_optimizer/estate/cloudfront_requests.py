"""CloudFront viewer requests, their cache results, and the origin fetches that misses cause."""

from __future__ import annotations

import base64
from urllib.parse import quote

import numpy as np
import pandas as pd

from egress_optimizer.cloudfront_edges import edges_in
from egress_optimizer.estate.incidents import CF_BASE_HIT_RATIO, Incident
from egress_optimizer.estate.topology import INTERNET_BLOCKS, INTERNET_V6_BLOCKS, SCALES, Estate, host_in
from egress_optimizer.estate.traffic import Stream, Volumes

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "okhttp/4.12.0",
]
EDGE_SUFFIXES = ["C1", "C2", "P1", "P2", "P3", "P5"]


def _edges(geo: str, rng: np.random.Generator) -> list[str]:
    codes = edges_in(geo)[:5]
    return [f"{c}{int(rng.integers(1, 90))}-{EDGE_SUFFIXES[int(rng.integers(0, len(EDGE_SUFFIXES)))]}" for c in codes]


def _request_id(rng: np.random.Generator) -> str:
    return base64.urlsafe_b64encode(rng.bytes(42)).decode()[:54] + "=="


def build_cloudfront_requests(
    estate: Estate,
    streams: list[Stream],
    vol: Volumes,
    incidents: list[Incident],
    start_epoch: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One row per viewer request; ``sc_bytes`` per (distribution, geo, hour) sums to the stream volume."""
    rph = SCALES[estate.scale]["cf_requests_per_hour"]
    collapse = {}
    for inc in incidents:
        if inc.kind == "cloudfront_cache_hit_collapse":
            collapse[inc.params["distribution"]] = (inc.start_hour, inc.end_hour, inc.params["hit_ratio"], inc.id)
    rows: list[pd.DataFrame] = []
    dists = {d.id: d for d in estate.distributions}
    for s in streams:
        if s.kind != "cf_viewer":
            continue
        d = dists[s.src]
        share = d.geo_mix[s.geo]
        o_h = vol.out[:, s.id]
        hours = np.flatnonzero(o_h > 0)
        n_h = np.maximum(1, rng.poisson(rph * share * (o_h[hours] / max(o_h.mean(), 1)), hours.size))
        groups = np.repeat(np.arange(hours.size), n_h)
        w = rng.lognormal(0, 1.0, groups.size)
        wsum = np.bincount(groups, weights=w, minlength=hours.size)
        sc = np.floor(o_h[hours][groups] * w / wsum[groups]).astype(np.int64)
        first = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
        sc[first] += o_h[hours] - np.bincount(groups, weights=sc, minlength=hours.size).astype(np.int64)
        hour = hours[groups]
        n = groups.size
        t = start_epoch + hour * 3600 + rng.integers(0, 3600, n)
        hit_ratio = np.clip(CF_BASE_HIT_RATIO + rng.normal(0, 0.015, vol.hours), 0.8, 0.98)[hour]
        u = rng.random(n)
        base_miss = u > hit_ratio
        miss = base_miss.copy()
        inc_id = np.full(n, "", dtype=object)
        if d.id in collapse:
            lo, hi, ratio, iid = collapse[d.id]
            during = (hour >= lo) & (hour < hi)
            miss = np.where(during, u > ratio, base_miss)
            inc_id[during & miss & ~base_miss] = iid
        edges = _edges(s.geo, rng)
        v4_pool = [host_in(INTERNET_BLOCKS[int(rng.integers(0, len(INTERNET_BLOCKS)))], rng) for _ in range(200)]
        v6_pool = [host_in(INTERNET_V6_BLOCKS[int(rng.integers(0, 3))], rng) for _ in range(40)]
        ip_choice = rng.integers(0, 200, n)
        use_v6 = rng.random(n) < 0.12
        c_ip = np.where(
            use_v6, np.array(v6_pool, dtype=object)[ip_choice % 40], np.array(v4_pool, dtype=object)[ip_choice]
        )
        result = np.where(miss, "Miss", np.where(rng.random(n) < 0.03, "RefreshHit", "Hit"))
        status = np.where(rng.random(n) < 0.015, 404, 200)
        if d.origin_kind == "s3":
            kinds = rng.integers(0, 3, n)
            uri = np.where(
                kinds == 0,
                [f"/media/hls/ep{int(x) % 40:03d}/seg{int(x) % 900:05d}.ts" for x in rng.integers(0, 10**6, n)],
                np.where(
                    kinds == 1,
                    [f"/img/products/{int(x):06d}.webp" for x in rng.integers(0, 5000, n)],
                    "/js/app.8f3c2a1b.js",
                ),
            )
            ctype = np.where(kinds == 0, "video/MP2T", np.where(kinds == 1, "image/webp", "application/javascript"))
            method = np.full(n, "GET", dtype=object)
        else:
            kinds = rng.integers(0, 4, n)
            uri = np.where(
                kinds == 0,
                "/",
                np.where(
                    kinds == 1,
                    [f"/products/{int(x)}" for x in rng.integers(1000, 9999, n)],
                    np.where(kinds == 2, "/api/cart", "/search"),
                ),
            )
            ctype = np.where(kinds == 2, "application/json", "text/html;charset=UTF-8")
            method = np.where((kinds == 2) & (rng.random(n) < 0.4), "POST", "GET")
        query = np.where(
            uri == "/search",
            [
                f"q={quote(q)}"
                for q in rng.choice(["running shoes", "winter jacket", "gift card", "socks & more", "caf\u00e9 mug"], n)
            ],
            "-",
        )
        ua_idx = rng.integers(0, len(USER_AGENTS), n)
        ua = np.array([quote(USER_AGENTS[i], safe="/;:()._-,+") for i in ua_idx], dtype=object)
        cs_bytes = rng.integers(180, 900, n) + np.where(method == "POST", rng.integers(200, 4000, n), 0)
        time_taken = np.round(
            0.001 + np.where(miss, rng.gamma(2.0, 0.06, n), rng.gamma(1.5, 0.004, n)) + sc / (40e6), 3
        )
        rows.append(
            pd.DataFrame(
                {
                    "distribution": d.id,
                    "geo": s.geo,
                    "hour": hour,
                    "t": t,
                    "edge": np.array(edges, dtype=object)[rng.integers(0, len(edges), n)],
                    "sc_bytes": sc,
                    "c_ip": c_ip,
                    "method": method,
                    "host": d.domain,
                    "uri": uri,
                    "status": status,
                    "ua": ua,
                    "query": query,
                    "result": result,
                    "request_id": [_request_id(rng) for _ in range(n)],
                    "x_host": d.aliases[0],
                    "cs_bytes": cs_bytes,
                    "time_taken": time_taken,
                    "c_port": rng.integers(1024, 65535, n),
                    "content_type": ctype,
                    "is_miss": miss,
                    "base_miss": base_miss,
                    "incident_id": inc_id,
                }
            )
        )
    df = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    return df.sort_values(["distribution", "t", "request_id"], kind="stable").reset_index(drop=True)


def set_origin_volumes(
    estate: Estate, streams: list[Stream], vol: Volumes, cf: pd.DataFrame, origin_streams: dict[str, list[int]]
) -> None:
    """ALB-origin misses become ALB ENI -> CloudFront flows; incident misses are kept apart."""
    dists = {d.id: d for d in estate.distributions}
    for dist_id, group in cf[cf.is_miss].groupby("distribution"):
        d = dists[dist_id]
        if d.origin_kind != "alb":
            continue
        alb = next(k for k, v in estate.alb_names.items() if v == d.origin)
        sids = origin_streams[alb]
        per_hour = np.bincount(group.hour, weights=group.sc_bytes * 1.03, minlength=vol.hours)
        req_hour = np.bincount(group.hour, minlength=vol.hours) * 700
        inc = group[group.incident_id != ""]
        for iid, ig in inc.groupby("incident_id"):
            extra = np.bincount(ig.hour, weights=ig.sc_bytes * 1.03, minlength=vol.hours)
            extra_req = np.bincount(ig.hour, minlength=vol.hours) * 700
            eo, ei = vol.by_incident.setdefault(iid, (np.zeros_like(vol.out), np.zeros_like(vol.inn)))
            for sid in sids:
                eo[:, sid] += np.round(extra / len(sids)).astype(np.int64)
                ei[:, sid] += np.round(extra_req / len(sids)).astype(np.int64)
        for sid in sids:
            vol.out[:, sid] = np.round(per_hour / len(sids)).astype(np.int64)
            vol.inn[:, sid] = np.round(req_hour / len(sids)).astype(np.int64)
