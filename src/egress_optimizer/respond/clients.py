"""AWS clients for the account and region of an incident, through a role in that account when one is named."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Adaptive retries absorb throttling (CloudTrail's LookupEvents allows 2 calls a second per account and region).
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 6}, connect_timeout=5, read_timeout=20)
GLOBAL_SERVICES = {"cloudfront": "us-east-1", "iam": "us-east-1", "ce": "us-east-1"}


class Clients:
    """``for_service(name)``: a cached client in ``region`` (CloudFront's in us-east-1), as ``role_arn`` if given."""

    def __init__(self, region: str, role_arn: str | None = None, session: boto3.session.Session | None = None):
        self.region = region
        self.role_arn = role_arn
        self._session = session
        self._cache: dict[str, Any] = {}

    def _base(self) -> boto3.session.Session:
        if self._session is None:
            if self.role_arn:
                creds = boto3.client("sts", config=RETRY_CONFIG).assume_role(
                    RoleArn=self.role_arn, RoleSessionName="egress-response", DurationSeconds=900
                )["Credentials"]
                self._session = boto3.session.Session(
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"],
                )
            else:
                self._session = boto3.session.Session()
        return self._session

    def for_service(self, name: str) -> Any:
        if name not in self._cache:
            region = GLOBAL_SERVICES.get(name, self.region)
            self._cache[name] = self._base().client(name, region_name=region, config=RETRY_CONFIG)
        return self._cache[name]


def for_account(account: str, region: str, role_name: str | None) -> Clients:
    """Clients in ``account`` through ``role_name`` (the response role each member account grants), or the
    function's own credentials when no role is configured (a single-account deployment)."""
    role = f"arn:aws:iam::{account}:role/{role_name}" if role_name else None
    return Clients(region if region not in ("", "global") else "us-east-1", role)
