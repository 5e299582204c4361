"""Write CloudFront standard (legacy) access logs: gzipped W3C files, one per distribution per hour."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from egress_optimizer.estate.topology import Estate
from egress_optimizer.estate.writers.files import stable_hex, write_gzip

FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
    "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
    "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
)
HEADER = f"#Version: 1.0\n#Fields: {FIELDS}\n"


def _lines(g: pd.DataFrame) -> list[str]:
    out = []
    cols = [
        "t",
        "edge",
        "sc_bytes",
        "c_ip",
        "method",
        "host",
        "uri",
        "status",
        "ua",
        "query",
        "result",
        "request_id",
        "x_host",
        "cs_bytes",
        "time_taken",
        "c_port",
        "content_type",
    ]
    for t, edge, sc, c_ip, method, host, uri, status, ua, query, result, rid, x_host, cs, taken, port, ctype in zip(
        *(g[c].tolist() for c in cols), strict=True
    ):
        tm = time.gmtime(int(t))
        date = f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}"
        clock = f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
        status = int(status)
        result = "Error" if status >= 400 else result
        ttfb = max(0.001, round(float(taken) * 0.6, 3))
        out.append(
            "\t".join(
                [
                    date,
                    clock,
                    edge,
                    str(int(sc)),
                    c_ip,
                    method,
                    host,
                    uri,
                    str(status),
                    "-",
                    ua,
                    query,
                    "-",
                    result,
                    rid,
                    x_host,
                    "https",
                    str(int(cs)),
                    f"{taken:.3f}",
                    "-",
                    "TLSv1.3",
                    "TLS_AES_128_GCM_SHA256",
                    result,
                    "HTTP/2.0",
                    "-",
                    "-",
                    str(int(port)),
                    f"{ttfb:.3f}",
                    result,
                    ctype if status < 400 else "text/html",
                    str(max(int(sc) - 400, 0)),
                    "-",
                    "-",
                ]
            )
        )
    return out


def write_cloudfront_logs(out: Path, estate: Estate, cf: pd.DataFrame) -> dict[str, int]:
    stats = {"objects": 0, "records": 0}
    if cf.empty:
        return stats
    dists = {d.id: d for d in estate.distributions}
    hours = (cf.t // 3600).to_numpy()
    for (dist_id, hour), g in cf.groupby([cf.distribution, hours], sort=True):
        d = dists[dist_id]
        tm = time.gmtime(int(hour) * 3600)
        stamp = f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}-{tm.tm_hour:02d}"
        key = f"{d.log_prefix}{d.id}.{stamp}.{stable_hex('cf', dist_id, hour)}.gz"
        lines = _lines(g)
        write_gzip(out / d.log_bucket / key, (HEADER + "\n".join(lines) + "\n").encode())
        stats["objects"] += 1
        stats["records"] += len(lines)
    return stats
