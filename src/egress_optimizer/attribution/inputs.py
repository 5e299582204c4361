"""What attribution needs beside the logs: the inventory, the price table, AWS's IP ranges and the networks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from egress_optimizer.attribution.inventory import Inventory
from egress_optimizer.attribution.up_to_date import inputs_fingerprint
from egress_optimizer.ipranges import IpRanges
from egress_optimizer.lake import Lake
from egress_optimizer.networks import Networks
from egress_optimizer.pricing import PriceCatalog, load_catalog


@dataclass(frozen=True)
class AttributionInputs:
    inventory: Inventory
    prices: PriceCatalog
    ip_ranges: IpRanges
    networks: Networks
    # What peer addresses turned out to be (AWS service, network, ...), kept across the batches of a run.
    peer_cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def load(
        cls, lake: Lake, inventory_dir: str | Path | None = None, networks_file: str | Path | None = None
    ) -> AttributionInputs:
        """The lake's inventory copy (or a snapshot folder), the shipped or configured price table and IP
        ranges, and the networks file (``networks_file``, else ``$EGRESS_NETWORKS``, else the shipped cloud
        ranges). The networks file is read first, so a bad one fails before any lake work."""
        networks = Networks.load(networks_file)
        inventory = Inventory.from_snapshot(inventory_dir) if inventory_dir else Inventory.from_lake(lake)
        return cls(inventory, load_catalog(), IpRanges.load(), networks)

    @property
    def fingerprint(self) -> str:
        """What the attributed rows depend on besides the logs: when it changes, history is attributed again."""
        return inputs_fingerprint(self.inventory.digest, self.prices.raw, self.ip_ranges, self.networks)
