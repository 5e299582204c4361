"""Test-wide guards: fake AWS credentials and no network beyond loopback.

moto mocks most services in-process, but an unmocked call would fall through to the real AWS endpoint;
blocking non-loopback sockets turns that into an immediate, visible failure instead of a network call.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path

import pytest
from hypothesis import settings

# The same examples on every run, so a red suite means a change broke something, not that a search got lucky.
# HYPOTHESIS_PROFILE=explore searches afresh (and keeps its examples database) when hunting for bugs.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
)
for var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(var, None)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = address[0]
    else:
        return True  # unix sockets
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NetworkBlocked(RuntimeError):
    pass


def _guarded(real):
    def connect(self, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise NetworkBlocked(f"test tried to reach {address!r}; tests may only use loopback")
        return real(self, address)

    return connect


socket.socket.connect = _guarded(_real_connect)  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded(_real_connect_ex)  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.exists():
        pytest.fail(f"reference data not found at {SHARED} (clone the project beside shared/)")
    return SHARED


@pytest.fixture(scope="session")
def estate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small generated estate (7 days) shared by the tests of a worker."""
    from egress_optimizer.estate.generate import generate

    out = tmp_path_factory.mktemp("estate")
    generate(out, days=7, seed=11, scale="small")
    return out


@pytest.fixture(scope="session")
def features_lake(estate_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared estate ingested, attributed and featurised into one lake (read-only for tests: copy it
    before writing models or detections)."""
    from egress_optimizer.attribution.features import write_tables
    from egress_optimizer.attribution.inventory import Inventory
    from egress_optimizer.attribution.reconcile import attribute
    from egress_optimizer.ingest.pipeline import ingest
    from egress_optimizer.ipranges import IpRanges
    from egress_optimizer.lake import Lake
    from egress_optimizer.pricing import load_catalog

    root = tmp_path_factory.mktemp("features") / "lake"
    lake = Lake.open(str(root))
    ingest([str(estate_dir)], lake)
    write_tables(lake, attribute(lake, Inventory.from_lake(lake), load_catalog(), IpRanges.load()))
    return root
