"""Destination classes: where the bytes of an attributed row went (the ``destination`` column).

A row's ``destination`` is its class, refined for two families (``cloudfront:EU``, ``aws-service:S3 via
NAT``); ``destination_class`` maps a value back to its class. ``peer_region`` qualifies the class: the peer's
AWS region (inter-region, replication, transit gateway), the site's name or gateway (on_premises), the
provider (other_cloud). Free transfer (same AZ, gateway endpoints, inbound) produces no rows.
"""

from __future__ import annotations

INTERNET = "internet"
OTHER_CLOUD = "other_cloud"
ON_PREMISES = "on_premises"
TRANSIT_GATEWAY = "transit_gateway"
CROSS_AZ = "cross-az"
CROSS_AZ_TO_NAT = "cross-az to NAT"
INTER_REGION = "inter-region"
INTERFACE_ENDPOINT = "interface endpoint"
REPLICATION = "replication"
CLOUDFRONT = "cloudfront"
CLOUDFRONT_ORIGIN = "cloudfront origin"
VIA_NAT = " via NAT"

DESTINATION_CLASSES: dict[str, str] = {
    INTERNET: "internet egress where it leaves AWS (NAT gateway, load balancer, public instance, IPv6, S3)",
    OTHER_CLOUD: "internet egress to Google Cloud, Azure, Oracle or a declared cloud (billed as internet egress)",
    ON_PREMISES: "private or declared on-premises space over Direct Connect (DX rate) or VPN (internet rate)",
    TRANSIT_GATEWAY: "transit gateway data processing, on the attachment that sends into the gateway",
    CROSS_AZ: "inter-AZ transfer, billed at both ends in each direction",
    CROSS_AZ_TO_NAT: "an instance reaching a NAT gateway in another AZ",
    INTER_REGION: "inter-region transfer on the sending ENI, priced by the pair",
    INTERFACE_ENDPOINT: "interface endpoint (PrivateLink) processing",
    REPLICATION: "S3 replication to a bucket in another region",
    CLOUDFRONT: "CloudFront data transfer out, by edge geography (cloudfront:<geo>)",
    CLOUDFRONT_ORIGIN: "origin fetches: an AWS origin (load balancer, instance, bucket) sending to CloudFront ($0)",
    "aws-service via NAT": "NAT gateway processing of traffic to an AWS service (aws-service:<SERVICE> via NAT)",
    INTERNET + VIA_NAT: "NAT gateway processing of internet traffic",
    OTHER_CLOUD + VIA_NAT: "NAT gateway processing of traffic to another cloud",
    ON_PREMISES + VIA_NAT: "NAT gateway processing of traffic to declared on-premises public space",
}


def destination_class(destination: str) -> str:
    """The class of a ``destination`` value (``cloudfront:EU`` -> ``cloudfront``)."""
    if destination.startswith(CLOUDFRONT + ":"):
        return CLOUDFRONT
    if destination.startswith("aws-service:") and destination.endswith(VIA_NAT):
        return "aws-service via NAT"
    return destination
