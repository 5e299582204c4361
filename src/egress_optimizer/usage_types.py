"""CUR usage-type names for data transfer, spelled as AWS spells them.

AWS prefixes usage types with a region code (``USW2-``, ``EU-``), except that some services in
us-east-1 (EC2, ELB, NAT gateways) carry no prefix at all while others (S3, VPC endpoints) use ``USE1-``.
Inter-region types always name both ends (``USE1-USW2-AWS-Out-Bytes``).
"""

from __future__ import annotations

from egress_optimizer.regions import PREFIX_TO_REGION, usage_prefix

# Products whose us-east-1 usage types have no region prefix.
UNPREFIXED_IN_USE1 = {"AmazonEC2", "AWSELB"}


def _p(region: str, product: str) -> str:
    if region == "us-east-1" and product in UNPREFIXED_IN_USE1:
        return ""
    return usage_prefix(region) + "-"


def internet_out(region: str, product: str) -> str:
    return f"{_p(region, product)}DataTransfer-Out-Bytes"


def internet_in(region: str, product: str) -> str:
    return f"{_p(region, product)}DataTransfer-In-Bytes"


def regional(region: str, product: str = "AmazonEC2") -> str:
    """Inter-AZ (and public/elastic IP within a region) transfer, billed in each direction."""
    return f"{_p(region, product)}DataTransfer-Regional-Bytes"


def inter_region_out(src: str, dst: str) -> str:
    return f"{usage_prefix(src)}-{usage_prefix(dst)}-AWS-Out-Bytes"


def inter_region_in(at: str, other: str) -> str:
    return f"{usage_prefix(at)}-{usage_prefix(other)}-AWS-In-Bytes"


def nat_bytes(region: str) -> str:
    return f"{_p(region, 'AmazonEC2')}NatGateway-Bytes"


def nat_hours(region: str) -> str:
    return f"{_p(region, 'AmazonEC2')}NatGateway-Hours"


def vpc_endpoint_bytes(region: str) -> str:
    return f"{usage_prefix(region)}-VpcEndpoint-Bytes"


def vpc_endpoint_hours(region: str) -> str:
    return f"{usage_prefix(region)}-VpcEndpoint-Hours"


def transit_gateway_bytes(region: str) -> str:
    """Transit Gateway data processing (product AmazonVPC), billed to the attachment that sends into the TGW."""
    return f"{usage_prefix(region)}-TransitGateway-Bytes"


def direct_connect_out(region: str, location: str | None = None) -> str:
    """Direct Connect data transfer out over a private or transit virtual interface (product AWSDirectConnect).

    AWS's CUR guide ("Understanding data transfer charges", docs.aws.amazon.com/cur/latest/userguide/
    cur-data-transfers-charges.html) says these usage types end with ``DataXfer-Out:dc.3`` (``DataXfer-Out``
    for public virtual interfaces); the Price List names the Direct Connect location after the region prefix
    (``USE1-EqDC2-...``). Without a declared location the location part is left out.
    """
    loc = f"{location}-" if location else ""
    return f"{usage_prefix(region)}-{loc}DataXfer-Out:dc.3"


def to_cloudfront(region: str, product: str) -> str:
    """Origin responses to CloudFront: listed in the CUR at $0 for AWS origins."""
    return f"{_p(region, product)}CloudFront-Out-Bytes"


def cloudfront_out(geo: str) -> str:
    return f"{geo}-DataTransfer-Out-Bytes"


def cloudfront_https_requests(geo: str) -> str:
    return f"{geo}-Requests-Tier2-HTTPS"


def s3_get_requests(region: str) -> str:
    return f"{usage_prefix(region)}-Requests-Tier2"


def s3_put_requests(region: str) -> str:
    return f"{usage_prefix(region)}-Requests-Tier1"


def alb_hours(region: str) -> str:
    return f"{_p(region, 'AWSELB')}LoadBalancerUsage"


def alb_lcu(region: str) -> str:
    return f"{_p(region, 'AWSELB')}LCUUsage"


def box_usage(region: str, instance_type: str) -> str:
    return f"{_p(region, 'AmazonEC2')}BoxUsage:{instance_type}"


def region_of(usage_type: str) -> str | None:
    """The (source) region a usage type is billed in; None for global (CloudFront) types."""
    head = usage_type.split("-", 1)[0]
    if head in PREFIX_TO_REGION:
        return PREFIX_TO_REGION[head]
    if head in {
        "DataTransfer",
        "NatGateway",
        "BoxUsage:",
        "LoadBalancerUsage",
        "LCUUsage",
        "CloudFront",
    } or usage_type.startswith(("BoxUsage", "NatGateway", "DataTransfer", "LoadBalancer", "LCU", "CloudFront")):
        return "us-east-1"
    return None
