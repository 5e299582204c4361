"""The shipped, versioned price table and typed look-ups over it.

The table is data (``data/prices/aws_list_prices.json``) so a refresh from the Price List API can
replace it without code changes; every price carries the table's version and source.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

GIB = 1024**3

Tiers = list[tuple[float | None, float]]  # (upper bound in GB of this tier or None, USD per GB)


@dataclass(frozen=True)
class PriceCatalog:
    raw: dict[str, Any]

    @property
    def version(self) -> str:
        return str(self.raw["version"])

    @property
    def source(self) -> str:
        return str(self.raw["source"])

    def internet_egress_tiers(self, region: str) -> Tiers:
        tiers = self.raw["internet_egress"]["tiers_gb"]
        return [(t[0], float(t[1])) for t in tiers.get(region, tiers["default"])]

    @property
    def internet_free_gb(self) -> float:
        return float(self.raw["internet_egress"]["free_tier_gb_per_month"])

    def inter_region(self, src: str, dst: str) -> float:
        ir = self.raw["inter_region"]
        for s, d, price in ir["pair_overrides"]:
            if s == src and d == dst:
                return float(price)
        return float(ir["from_region"].get(src, ir["default"]))

    @property
    def inter_az_each_direction(self) -> float:
        return float(self.raw["inter_az"]["per_gb_each_direction"])

    def nat_per_gb(self, region: str) -> float:
        nat = self.raw["nat_gateway"]
        return float(nat.get(region, nat["default"])["per_gb"])

    def nat_per_hour(self, region: str) -> float:
        nat = self.raw["nat_gateway"]
        return float(nat.get(region, nat["default"])["per_hour"])

    @property
    def interface_endpoint_per_gb(self) -> float:
        return float(self.raw["interface_endpoint"]["per_gb"])

    @property
    def interface_endpoint_per_hour_per_az(self) -> float:
        return float(self.raw["interface_endpoint"]["per_hour_per_az"])

    @property
    def transit_gateway_per_gb(self) -> float:
        return float(self.raw["transit_gateway"]["per_gb"])

    def cloudfront_tiers(self, geo: str) -> Tiers:
        return [(t[0], float(t[1])) for t in self.raw["cloudfront"]["tiers_gb"][geo]]

    @property
    def cloudfront_free_gb(self) -> float:
        return float(self.raw["cloudfront"]["free_tier_gb_per_month"])

    @property
    def cloudfront_origin_fetch_per_gb(self) -> float:
        """Data transfer from an AWS origin (S3, EC2, ELB) to CloudFront: free, listed at $0."""
        return float(self.raw["cloudfront"].get("origin_fetch_from_aws_origin", 0.0))

    def cloudfront_https_per_10000(self, geo: str) -> float:
        return float(self.raw["cloudfront"]["https_requests_per_10000"][geo])

    @property
    def s3_get_per_1000(self) -> float:
        return float(self.raw["s3_requests"]["get_per_1000"])

    @property
    def s3_put_per_1000(self) -> float:
        return float(self.raw["s3_requests"]["put_per_1000"])

    @property
    def alb_hour(self) -> float:
        return float(self.raw["elb"]["alb_hour"])

    @property
    def lcu_hour(self) -> float:
        return float(self.raw["elb"]["lcu_hour"])


def _read_json(path: Path | None) -> dict[str, Any]:
    if path is not None:
        return json.loads(Path(path).read_text())
    ref = resources.files("egress_optimizer") / "data" / "prices" / "aws_list_prices.json"
    return json.loads(ref.read_text())


def load_catalog(path: Path | None = None) -> PriceCatalog:
    """The table at ``path`` or ``$EGRESS_PRICE_TABLE`` (written by ``egress pricing refresh``), else the
    shipped snapshot."""
    return _load(str(path) if path else os.environ.get("EGRESS_PRICE_TABLE", ""))


@lru_cache(maxsize=8)
def _load(path: str) -> PriceCatalog:
    return PriceCatalog(_read_json(Path(path) if path else None))
