"""FEATURES_SQL on a handful of hand-made rows: sums, peer counts and first-seen peers, checked one by one."""

from __future__ import annotations

import pandas as pd

from egress_optimizer.attribution.features import build_features

H0 = pd.Timestamp("2026-10-01 00:00")
H1 = H0 + pd.Timedelta(hours=1)


def _row(hour, peer, bytes_, *, dest="internet", team="web", packets=10, records=1, entity="i-1", peer_region=None):
    return {
        "hour": hour,
        "account": "111111111111",
        "region": "us-east-1",
        "resource_id": entity,
        "destination": dest,
        "peer_region": peer_region,
        "team": team,
        "peer": peer,
        "bytes": bytes_,
        "packets": packets,
        "records": records,
        "usd": bytes_ / 1e9,
    }


def _features(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows).astype({"bytes": "int64", "records": "int64", "packets": "Int64"})
    return build_features(df)[0].to_pandas().set_index(["hour", "destination"])


def test_rows_without_a_peer_count_in_the_sums_but_not_as_peers():
    out = _features(
        [
            _row(H0, "10.0.0.1", 100),
            _row(H0, "10.0.0.1", 50, packets=None),  # no packets: counts as 0
            _row(H0, None, 1000),
            _row(H0, None, 7, dest="cross-az"),  # a group and hour with no peer at all
            _row(H0, "10.0.0.2", 1, entity=None),  # no entity: not a feature row
        ]
    )
    internet = out.loc[(H0, "internet")]
    assert (internet.bytes, internet.packets, internet.records) == (1150, 20, 3)
    assert abs(internet.cost_usd - 1150 / 1e9) <= 1e-18
    assert (internet.distinct_peers, internet.new_peers, internet.new_peer_share) == (1, 1, 1.0)
    cross = out.loc[(H0, "cross-az")]
    assert (cross.bytes, cross.distinct_peers, cross.new_peers) == (7, 0, 0)
    assert pd.isna(cross.new_peer_share)
    assert len(out) == 2


def test_a_peer_is_new_once_per_entity_and_counted_once_per_group_and_hour():
    out = _features(
        [
            _row(H0, "10.0.0.1", 1),
            _row(H0, "10.0.0.1", 1, team="zz-other"),  # same peer, another team: still one peer; max(team)
            _row(H0, "10.0.0.2", 1, dest="inter-region", peer_region="us-west-2"),
            _row(H1, "10.0.0.1", 1),  # seen the hour before: not new
            _row(H1, "10.0.0.2", 1),  # first seen at H0 through another destination: not new either
            _row(H1, "10.0.0.3", 1),
            _row(H1, "10.0.0.1", 1, entity="i-2"),  # new for this other entity
        ]
    )
    h0 = out.loc[(H0, "internet")]
    assert (h0.distinct_peers, h0.new_peers, h0.team, h0.bytes) == (1, 1, "zz-other", 2)
    inter = out.loc[(H0, "inter-region")]
    assert (inter.peer_region, inter.distinct_peers, inter.new_peers) == ("us-west-2", 1, 1)
    h1 = out[out.entity == "i-1"].loc[(H1, "internet")]
    assert (h1.distinct_peers, h1.new_peers) == (3, 1)
    assert abs(h1.new_peer_share - 1 / 3) <= 1e-12
    other = out[out.entity == "i-2"].loc[(H1, "internet")]
    assert (other.distinct_peers, other.new_peers) == (1, 1)
    assert (out.loc[(H0, "internet")].peer_region, out.loc[(H0, "internet")].weeks_of_history) == ("", 0)


def test_output_columns_and_types():
    df = pd.DataFrame([_row(H0, "10.0.0.1", 1)]).astype({"bytes": "int64", "records": "int64", "packets": "Int64"})
    types = {f.name: str(f.type) for f in build_features(df)[0].schema}
    count, ratio = "decimal128(38, 0)", "double"  # DuckDB's sum() of integers is a HUGEINT
    want = {
        "hour": "timestamp[us]",
        **dict.fromkeys(("account", "region", "entity", "destination", "peer_region", "team"), "string"),
        **dict.fromkeys(("bytes", "packets", "records", "new_peers"), count),
        "cost_usd": "double",
        **dict.fromkeys(("distinct_peers", "weeks_of_history"), "int64"),
        **dict.fromkeys(("new_peer_share", "median_same_hour_of_week", "ratio_to_same_hour_of_week"), ratio),
        **dict.fromkeys(("median_same_hour_7d", "ratio_to_same_hour_7d"), ratio),
    }
    assert {name: types.get(name) for name in want} == want
    assert list(types)[:6] == ["hour", "account", "region", "entity", "destination", "peer_region"]
