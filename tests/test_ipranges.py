"""AWS IP ranges: most specific owner, vectorised look-ups, and the refresh path (served on loopback)."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from egress_optimizer.cli import run
from egress_optimizer.ipranges import IpRanges, Owner, shipped


def test_shipped_snapshot_matches_the_shared_copy(shared):
    doc = json.loads((shared / "aws" / "ip-ranges.json").read_text())
    r = shipped()
    assert r.sync_token == doc["syncToken"] and r.create_date == doc["createDate"]


@pytest.mark.parametrize(
    ("addr", "owner"),
    [
        ("52.216.1.1", Owner("S3", "us-east-1")),  # S3 beats the equally long AMAZON prefix
        ("3.218.180.5", Owner("DYNAMODB", "us-east-1")),
        ("2600:1f18::1", Owner("EC2", "us-east-1")),
        ("81.2.69.1", None),  # the internet
        ("10.0.0.1", None),  # private space is not AWS's to publish
        ("not-an-ip", None),
    ],
)
def test_owner(addr, owner):
    assert shipped().owner(addr) == owner


def test_most_specific_prefix_wins():
    r = IpRanges(
        {
            "prefixes": [
                {"ip_prefix": "10.0.0.0/8", "region": "us-east-1", "service": "AMAZON"},
                {"ip_prefix": "10.1.0.0/16", "region": "eu-west-1", "service": "AMAZON"},
                {"ip_prefix": "10.1.2.0/24", "region": "eu-west-1", "service": "S3"},
            ],
            "ipv6_prefixes": [],
        }
    )
    assert r.owner("10.1.2.3") == Owner("S3", "eu-west-1")
    assert r.owner("10.1.3.3") == Owner("AMAZON", "eu-west-1")
    assert r.owner("10.2.0.1") == Owner("AMAZON", "us-east-1")
    assert r.owner("11.0.0.1") is None
    assert r.owners(["10.1.2.3", "10.2.0.1", "11.0.0.1", None]) == [
        Owner("S3", "eu-west-1"),
        Owner("AMAZON", "us-east-1"),
        None,
        None,
    ]


def test_vectorised_equals_scalar():
    r = shipped()
    addrs = ["52.216.1.1", "3.5.140.7", "130.176.1.1", "1.1.1.1", "54.239.0.1", "2a02:cf40::1", "15.230.15.29"]
    assert r.owners(addrs) == [r.owner(a) for a in addrs]


@pytest.fixture()
def server():
    body = json.dumps(
        {
            "syncToken": "1",
            "createDate": "2026-11-01-00-00-00",
            "prefixes": [{"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "S3"}],
            "ipv6_prefixes": [],
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            data = body if self.path == "/ip-ranges.json" else b"<html>not json</html>"
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_refresh_cli(server, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ranges.json.gz"
    assert run(["ipranges", "refresh", "--out", str(out), "--url", f"{server}/ip-ranges.json", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prefixes"] == 1
    assert json.loads(gzip.decompress(out.read_bytes()))["syncToken"] == "1"
    monkeypatch.setenv("EGRESS_IP_RANGES", str(out))
    assert IpRanges.load().owner("52.216.0.9") == Owner("S3", "us-east-1")
    # A bad download is a one-line error and leaves nothing behind.
    bad = tmp_path / "bad.json.gz"
    assert run(["ipranges", "refresh", "--out", str(bad), "--url", f"{server}/nope"]) == 1
    assert "could not refresh" in capsys.readouterr().err and not bad.exists()
