"""Facts about AWS resource configuration that the collectors report and the remediation actions change, read
one way for both: who a bucket policy statement lets in, where a bucket lives, which gateway endpoints a route
table carries."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

GATEWAY_SERVICES = ("s3", "dynamodb")


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call ("Unknown" when the answer carries none)."""
    return exc.response.get("Error", {}).get("Code", "Unknown")


def as_list(value: Any) -> list[str]:
    """An IAM policy field that may be a string or a list, as a list of strings."""
    return [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value is not None else [])


def grants_everyone(statement: dict) -> bool:
    """An Allow whose principal is everyone and that no condition narrows."""
    principal = statement.get("Principal")
    everyone = principal == "*" or (isinstance(principal, dict) and "*" in as_list(principal.get("AWS")))
    return statement.get("Effect") == "Allow" and everyone and not statement.get("Condition")


def bucket_region(s3: Any, bucket: str) -> str | None:
    """The bucket's region, or None when it cannot be read (another account's bucket, no permission)."""
    try:
        return s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    except ClientError:
        return None


def gateway_endpoints_on(endpoints: list[dict], route_table: str, region: str) -> dict[str, list[str]]:
    """Per gateway service (S3, DynamoDB): the ids of the available gateway endpoints on ``route_table``, from
    a ``DescribeVpcEndpoints`` answer."""
    return {
        svc: [
            e["VpcEndpointId"]
            for e in endpoints
            if e.get("VpcEndpointType") == "Gateway"
            and e.get("ServiceName") == f"com.amazonaws.{region}.{svc}"
            and route_table in e.get("RouteTableIds", [])
            and e.get("State", "available") == "available"
        ]
        for svc in GATEWAY_SERVICES
    }


def endpoints_text(covered: dict[str, list[str]]) -> str:
    return ", ".join(f"{svc} {'yes' if ids else 'none'}" for svc, ids in covered.items())
