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


# The slowest modules (minutes of CPU between them: Spark, the demo, the packaging build, the incremental runs) run
# first. `make test` hands whole modules to the two workers in this order (--dist loadscope --no-loadscope-reorder),
# so module fixtures are built once, and a slow module taken last would leave one worker running it alone.
SLOWEST_FIRST = (
    "test_demo.py", "test_attribution_spark.py", "test_packaging.py", "test_incremental.py", "test_detection.py",
    "test_ingest_pipeline.py", "test_dashboard_views.py", "test_report.py", "test_estate_realistic.py",
    "test_cli_width.py", "test_plan_from_lake.py", "test_attribution.py", "test_respond_workflow.py",
    "test_remediate_cli.py", "test_respond_actions.py", "test_stress.py", "test_infra_plan.py",
)  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def _private_remediation_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """`egress remediate` keeps plans in ~/.egress by default: tests keep theirs in a temporary folder."""
    monkeypatch.setenv("EGRESS_STATE_DIR", str(tmp_path_factory.mktemp("remediation-store")))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.exists():
        pytest.fail(f"reference data not found at {SHARED} (clone the project beside shared/)")
    return SHARED


def built_once(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str, build) -> Path:
    """A folder ``build(path)`` fills once per test run, shared by the xdist workers (a file lock serialises
    the first build; the others wait and reuse it). Tests treat it as read-only: copy it before writing."""
    import fcntl
    import shutil

    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the run's folder, above each worker's own
    target = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".built").exists():
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            build(target)
            (target / ".built").touch()
    return target


@pytest.fixture(scope="session")
def estate_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One small generated estate (7 days, seed 11), shared by every test of the run."""
    from egress_optimizer.estate.generate import generate

    def build(out: Path) -> None:
        generate(out / "estate", days=7, seed=11, scale="small", start="2026-10-01", profile="clean")

    return built_once(tmp_path_factory, worker_id, "estate", build) / "estate"


@pytest.fixture(scope="session")
def ingested_lake(estate_dir: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The shared estate ingested into a lake (log tables only; read-only: copy it before writing)."""
    from egress_optimizer import stages

    def build(out: Path) -> None:
        stages.ingest(str(out / "lake"), [str(estate_dir)])

    return built_once(tmp_path_factory, worker_id, "ingested", build) / "lake"


@pytest.fixture(scope="session")
def features_lake(ingested_lake: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The shared estate ingested, attributed and featurised into one lake (read-only for tests: copy it
    before writing models or detections)."""
    import shutil

    from egress_optimizer import stages
    from egress_optimizer.lake import Lake

    def build(out: Path) -> None:
        shutil.copytree(ingested_lake, out / "lake")
        stages.build_features(Lake.open(str(out / "lake"), create=False))

    return built_once(tmp_path_factory, worker_id, "features", build) / "lake"


@pytest.fixture(scope="session")
def attributed(features_lake: Path):
    """The shared estate's attributed rows, as the features lake stores them."""
    from egress_optimizer.lake import Lake
    from egress_optimizer.tables import ATTRIBUTED

    return Lake.open(str(features_lake), create=False).read_table(ATTRIBUTED).to_pandas()


@pytest.fixture()
def lake_copy(features_lake: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the features lake."""
    import shutil

    dst = tmp_path / "lake"
    shutil.copytree(features_lake, dst)
    return dst
