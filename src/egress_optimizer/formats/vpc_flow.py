"""VPC Flow Logs field catalogue: names, the version that introduced each field, and Parquet types.

Flow log ``version`` is the highest version among the fields a format uses, not a schema id; custom
formats may list fields in any order, so readers map columns by the header line.
"""

from __future__ import annotations

# Field -> version that introduced it (AWS VPC user guide, "Available fields").
FIELD_VERSION: dict[str, int] = {
    **dict.fromkeys(
        [
            "version",
            "account-id",
            "interface-id",
            "srcaddr",
            "dstaddr",
            "srcport",
            "dstport",
            "protocol",
            "packets",
            "bytes",
            "start",
            "end",
            "action",
            "log-status",
        ],
        2,
    ),
    **dict.fromkeys(["vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr"], 3),
    **dict.fromkeys(["region", "az-id", "sublocation-type", "sublocation-id"], 4),
    **dict.fromkeys(["pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path"], 5),
    **dict.fromkeys(
        [
            "resource-type",
            "tgw-id",
            "tgw-attachment-id",
            "tgw-src-vpc-account-id",
            "tgw-dst-vpc-account-id",
            "tgw-src-vpc-id",
            "tgw-dst-vpc-id",
            "tgw-src-subnet-id",
            "tgw-dst-subnet-id",
            "tgw-src-eni",
            "tgw-dst-eni",
            "tgw-src-az-id",
            "tgw-dst-az-id",
            "tgw-pair-attachment-id",
            "packets-lost-no-route",
            "packets-lost-blackhole",
            "packets-lost-mtu-exceeded",
            "packets-lost-ttl-expired",
        ],
        6,
    ),
    **dict.fromkeys(
        [
            "ecs-cluster-arn",
            "ecs-cluster-name",
            "ecs-container-instance-arn",
            "ecs-container-instance-id",
            "ecs-container-id",
            "ecs-second-container-id",
            "ecs-service-name",
            "ecs-task-definition-arn",
            "ecs-task-arn",
            "ecs-task-id",
        ],
        7,
    ),
    "reject-reason": 8,
}

DEFAULT_FORMAT = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
]

# Transit Gateway flow logs' default format (the order AWS documents for TGW flow logs).
TGW_DEFAULT_FORMAT = [
    "version",
    "resource-type",
    "account-id",
    "tgw-id",
    "tgw-attachment-id",
    "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id",
    "tgw-src-vpc-id",
    "tgw-dst-vpc-id",
    "tgw-src-subnet-id",
    "tgw-dst-subnet-id",
    "tgw-src-eni",
    "tgw-dst-eni",
    "tgw-src-az-id",
    "tgw-dst-az-id",
    "tgw-pair-attachment-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "log-status",
    "type",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
    "tcp-flags",
    "region",
    "flow-direction",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
]

# Parquet physical types AWS uses when it delivers flow logs as Parquet (other fields are strings).
PARQUET_INT32 = {
    "version",
    "srcport",
    "dstport",
    "protocol",
    "tcp-flags",
    "traffic-path",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
}
PARQUET_INT64 = {"packets", "bytes", "start", "end"}


def format_version(fields: list[str]) -> int:
    return max(FIELD_VERSION.get(f.replace("_", "-"), 2) for f in fields)


def column_name(field: str) -> str:
    """Parquet/Athena spelling of a field (hyphens become underscores)."""
    return field.replace("-", "_")
