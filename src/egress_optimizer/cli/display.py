"""How the command line shows what the stages return, readably at 80 columns: short ids (the last part of an ARN,
the first characters of an incident id), the names the inventory knows, codes in words, bytes in units, and
indented lines that wrap under themselves."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field

from egress_optimizer.cli import stdout

# An incident id as the tables show it: "evt-" and its first 8 hex digits. The commands that take an incident id
# (explain, respond, feedback) accept it; `egress detect --wide` and --json print the whole id.
INCIDENT_ID_CHARS = 12
ARN = re.compile(r"\barn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d*:[^\s,;()]+")
_TOKEN = re.compile(rf"{ARN.pattern}|(?<![\w.-])[\w.-]*\w")  # an ARN, or a word that may be a resource's id
_LOAD_BALANCER = re.compile(r"(?:^|loadbalancer/)(?:app|net|gwy)/([^/]+)/[0-9a-f]+$")
# Words of codes (incident kinds, root causes, reasons, outcomes) that read better spelled as AWS spells them.
_SPELLED = {"az": "AZ", "nat": "NAT", "s3": "S3", "cloudfront": "CloudFront", "vpc": "VPC", "dynamodb": "DynamoDB"}


def short_incident_id(incident_id: str) -> str:
    return incident_id[:INCIDENT_ID_CHARS]


def short_id(resource_id: str) -> str:
    """A resource's id without its ARN: the last part of the resource path, a load balancer's name."""
    resource = resource_id.split(":", 5)[-1] if resource_id.startswith("arn:") else resource_id
    m = _LOAD_BALANCER.search(resource)
    if m:
        return m.group(1)
    return resource.rsplit("/", 1)[-1] if resource_id.startswith("arn:") else resource


def words(code: str) -> str:
    """A code (``nat_gateway_s3_no_endpoint``, ``timed_out``) in words: ``NAT gateway S3 no endpoint``."""
    return " ".join(_SPELLED.get(w, w) for w in str(code).split("_"))


def size(n: float) -> str:
    """Bytes in decimal units, as ``26.2 MB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def print_item(text: str, indent: int = 2, hang: int = 4) -> None:
    """One line of a list, wrapped to the terminal with its continuation lines indented under it."""
    width = max(stdout.width - 1, 40)
    lines = textwrap.wrap(text, width, initial_indent=" " * indent, subsequent_indent=" " * (indent + hang),
                          break_on_hyphens=False, break_long_words=False) or [""]  # fmt: skip
    for line in lines:
        stdout.print(line, markup=False, highlight=False, soft_wrap=True)


@dataclass
class Names:
    """What the lake's inventory calls things: each resource's Name tag (a workload's ``app`` tag when it has
    none) by id and by ARN, each account's name, and each resource's region. Empty for a lake without an
    inventory."""

    resources: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    regions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_lake(cls, lake) -> Names:
        from egress_optimizer.lake import INVENTORY_DIR

        try:
            return cls.from_documents(lake.documents(INVENTORY_DIR))
        except (OSError, ValueError, KeyError, TypeError):  # no inventory, or one this reader cannot follow
            return cls()

    @classmethod
    def from_documents(cls, files: dict[str, str]) -> Names:
        import json

        from egress_optimizer.attribution.inventory import Inventory

        if "organization.json" not in files:
            return cls()
        accounts = {a["Id"]: a["Name"] for a in json.loads(files["organization.json"]).get("Accounts", [])}
        tagged: dict[str, str] = {}  # resource id -> Name tag
        for rel, text in files.items():
            if "/ec2/describe_" not in rel and rel not in ("s3/buckets.json", "cloudfront/distributions.json"):
                continue
            doc = json.loads(text)
            for res in doc.get("Reservations", []):
                for inst in res.get("Instances", []):
                    _name(tagged, inst.get("InstanceId"), inst.get("Tags"))
            for nat in doc.get("NatGateways", []):
                _name(tagged, nat.get("NatGatewayId"), nat.get("Tags"))
            for ep in doc.get("VpcEndpoints", []):
                _name(tagged, ep.get("VpcEndpointId"), ep.get("Tags"))
            for b in doc.get("Buckets", []):
                _name(tagged, b.get("Name"), (b.get("GetBucketTagging") or {}).get("TagSet"))
            for d in (doc.get("DistributionList") or {}).get("Items", []):
                _name(tagged, d.get("Id"), (d.get("Tags") or {}).get("Items"))
        inv = Inventory.from_documents(files)
        names = dict(tagged)
        regions = dict(zip(inv.buckets.bucket, inv.buckets.region, strict=True)) if len(inv.buckets) else {}
        for e in inv.enis.itertuples(index=False) if len(inv.enis) else []:
            regions[e.resource_id] = regions[e.resource_arn] = e.region
            name = tagged.get(e.resource_id)
            if not name and e.kind not in ("nat", "vpce", "tgw") and isinstance(e.app, str):
                name = e.app  # a workload without a Name tag: its app tag
            if name:
                names[e.resource_id] = names[e.resource_arn] = name
        for d in inv.distributions.itertuples(index=False) if len(inv.distributions) else []:
            name = tagged.get(d.distribution_id) or (d.app if isinstance(d.app, str) else None)
            if name:
                names[d.distribution_id] = names[d.arn] = name
        return cls(names, accounts, regions)

    def resource(self, resource_id: str) -> str | None:
        """The resource's name, when it tells more than its short id."""
        name = self.resources.get(resource_id) or self.resources.get(short_id(resource_id))
        return name if name and name not in short_id(resource_id) else None

    def label(self, resource_id: str) -> str:
        """``short id (name)``, or the short id alone."""
        name = self.resource(resource_id)
        return f"{short_id(resource_id)} ({name})" if name else short_id(resource_id)

    def region(self, resource_id: str) -> str:
        """The resource's region: from its ARN, else from the inventory ("global" for CloudFront)."""
        if resource_id.startswith("arn:"):
            return resource_id.split(":")[3] or "global"
        return self.regions.get(resource_id, "-")

    def account(self, account_id: str | None, wide: bool = False) -> str:
        """The account's name (with its id when ``wide``), or its id."""
        name = self.accounts.get(account_id or "")
        if not name:
            return account_id or "-"
        return f"{name} ({account_id})" if wide else name

    def shorten(self, text: str) -> str:
        """``text`` with each ARN in it as its short id, and a resource it names followed by its name (unless the
        text says the name already, or a parenthesis follows)."""
        said: set[str] = set()

        def named(m: re.Match) -> str:
            rid = m.group(0)
            name = self.resource(rid)
            if not name or name in text or name in said or m.string[m.end() : m.end() + 2] == " (":
                return short_id(rid)
            said.add(name)
            return f"{short_id(rid)} ({name})"

        return _TOKEN.sub(named, text)


def _name(out: dict[str, str], resource_id: str | None, tags: list | None) -> None:
    name = next((t.get("Value") for t in tags or [] if t.get("Key") == "Name"), None)
    if resource_id and name:
        out[resource_id] = name
