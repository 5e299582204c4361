"""AWS region facts the rest of the library needs: CUR usage-type prefixes, display names, AZ ids.

Usage-type prefixes are how the CUR spells a region (``USE1-DataTransfer-Out-Bytes``); eu-west-1 is
the historical exception spelled ``EU``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    code: str
    prefix: str  # CUR usage-type prefix
    name: str  # product/location in the CUR
    az_id_prefix: str  # AZ ids are <az_id_prefix>-az<N>
    cloudfront_geo: str  # CloudFront pricing geography of edges in this area


REGIONS: dict[str, Region] = {
    r.code: r
    for r in [
        Region("us-east-1", "USE1", "US East (N. Virginia)", "use1", "US"),
        Region("us-east-2", "USE2", "US East (Ohio)", "use2", "US"),
        Region("us-west-1", "USW1", "US West (N. California)", "usw1", "US"),
        Region("us-west-2", "USW2", "US West (Oregon)", "usw2", "US"),
        Region("ca-central-1", "CAN1", "Canada (Central)", "cac1", "CA"),
        Region("eu-west-1", "EU", "EU (Ireland)", "euw1", "EU"),
        Region("eu-west-2", "EUW2", "EU (London)", "euw2", "EU"),
        Region("eu-west-3", "EUW3", "EU (Paris)", "euw3", "EU"),
        Region("eu-central-1", "EUC1", "EU (Frankfurt)", "euc1", "EU"),
        Region("eu-north-1", "EUN1", "EU (Stockholm)", "eun1", "EU"),
        Region("eu-south-1", "EUS1", "EU (Milan)", "eus1", "EU"),
        Region("ap-northeast-1", "APN1", "Asia Pacific (Tokyo)", "apne1", "JP"),
        Region("ap-northeast-2", "APN2", "Asia Pacific (Seoul)", "apne2", "AP"),
        Region("ap-northeast-3", "APN3", "Asia Pacific (Osaka)", "apne3", "JP"),
        Region("ap-southeast-1", "APS1", "Asia Pacific (Singapore)", "apse1", "AP"),
        Region("ap-southeast-2", "APS2", "Asia Pacific (Sydney)", "apse2", "AU"),
        Region("ap-south-1", "APS3", "Asia Pacific (Mumbai)", "aps1", "IN"),
        Region("ap-east-1", "APE1", "Asia Pacific (Hong Kong)", "ape1", "AP"),
        Region("sa-east-1", "SAE1", "South America (Sao Paulo)", "sae1", "SA"),
        Region("me-south-1", "MES1", "Middle East (Bahrain)", "mes1", "ME"),
        Region("me-central-1", "MEC1", "Middle East (UAE)", "mec1", "ME"),
        Region("af-south-1", "AFS1", "Africa (Cape Town)", "afs1", "ZA"),
    ]
}

PREFIX_TO_REGION: dict[str, str] = {r.prefix: r.code for r in REGIONS.values()}


class UnknownRegionError(ValueError):
    pass


def region(code: str) -> Region:
    try:
        return REGIONS[code]
    except KeyError:
        raise UnknownRegionError(f"unknown AWS region {code!r}") from None


def usage_prefix(code: str) -> str:
    return region(code).prefix


def az_name(code: str, index: int) -> str:
    """Zone name for the index-th zone (0 -> 'a')."""
    return f"{code}{'abcdef'[index]}"


def az_id(code: str, index: int) -> str:
    """Zone id (stable across accounts, unlike names); we map a->az1, b->az2, ... for the estate."""
    return f"{region(code).az_id_prefix}-az{index + 1}"
