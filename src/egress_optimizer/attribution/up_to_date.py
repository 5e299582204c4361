"""Whether the attribute and features stages have anything to do, answered from the change journal and the
fingerprint of the attribution inputs alone: no pandas, no DuckDB, so an hourly run with nothing new costs
what reading a few small JSON files costs, not what loading the engines costs.

The stage modules take their journal names and the fingerprint from here, so the check and the stages cannot
disagree on what "nothing new" means.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from egress_optimizer import changes
from egress_optimizer.lake import INVENTORY_DIR, Lake
from egress_optimizer.tables import ATTRIBUTED, CLOUDFRONT, CUR, CUR_DAILY, EGRESS_HOURLY, S3_ACCESS, VPC_FLOW

if TYPE_CHECKING:
    from egress_optimizer.ipranges import IpRanges
    from egress_optimizer.networks import Networks

ATTRIBUTE = "attribute"  # the attribute stage's name in the change journal
FEATURES = "features"
CUR_ROLL_UP = "cur_daily"
LOG_INPUTS = (VPC_FLOW, S3_ACCESS, CLOUDFRONT)
INPUTS_STATE = f"{changes.STATE_DIR}/{ATTRIBUTE}/inputs.json"  # the fingerprint of the inputs attributed with
QUIET_RUN = {
    ATTRIBUTED.name: 0,
    EGRESS_HOURLY.name: 0,
    CUR_DAILY.name: 0,
    "attribution": {"rebuild": False, "hours_attributed": 0, "hours_repriced": 0, "rows": 0},
    "features": {"rebuild": False, "hours": 0, "rows": 0},
}  # what ``build_features(...).to_json()`` says of a run with nothing to do (a test holds them equal)


def documents_digest(files: dict[str, str]) -> str:
    """The digest of an inventory snapshot's documents (by path)."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()


def inputs_fingerprint(inventory_digest: str, prices_raw: dict, ip_ranges: IpRanges, networks: Networks) -> str:
    """What the attributed rows depend on besides the logs: when it changes, history is attributed again."""
    nets = [(n.kind, n.name, n.cidr, n.via, n.dx_location, n.source) for n in [*networks.declared, *networks.clouds]]
    doc = {
        "inventory": inventory_digest,
        "prices": hashlib.sha256(json.dumps(prices_raw, sort_keys=True).encode()).hexdigest(),
        "ip_ranges": [ip_ranges.sync_token, ip_ranges.create_date],
        "networks": hashlib.sha256(json.dumps(sorted(nets, key=str)).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def inventory_documents(lake: Lake, inventory_dir: str | Path | None) -> dict[str, str]:
    """The snapshot's documents: a folder's, else the lake's copy."""
    if inventory_dir:
        root = Path(inventory_dir)
        return {str(p.relative_to(root)): p.read_text() for p in root.rglob("*.json")}
    return lake.documents(INVENTORY_DIR)


def inputs_stale(lake: Lake, fingerprint: str) -> bool:
    """Whether ``attributed`` was built from other attribution inputs (or never built): a rebuild is due."""
    return not lake.exists(INPUTS_STATE) or lake.read_json(INPUTS_STATE).get("fingerprint") != fingerprint


def up_to_date(lake: Lake, inventory_dir: str | Path | None = None, networks_file: str | Path | None = None) -> bool:
    """True when ``build_features`` would do nothing: every stage has run before, the journal holds nothing
    they have not consumed, and the attribution inputs are those the lake was attributed with."""
    from egress_optimizer.ipranges import IpRanges
    from egress_optimizer.networks import Networks
    from egress_optimizer.pricing import load_catalog

    consumers = [(ATTRIBUTE, t) for t in LOG_INPUTS] + [(FEATURES, ATTRIBUTED), (CUR_ROLL_UP, CUR)]
    if any(changes.has_pending(lake, consumer, table) for consumer, table in consumers):
        return False
    if not all(changes.has_state(lake, consumer, table) for consumer, table in consumers[-2:]):
        return False
    docs = inventory_documents(lake, inventory_dir)
    if "organization.json" not in docs:
        return False  # the stages will say what is missing
    fingerprint = inputs_fingerprint(
        documents_digest(docs), load_catalog().raw, IpRanges.load(), Networks.load(networks_file)
    )
    return not inputs_stale(lake, fingerprint)
