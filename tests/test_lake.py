"""The lake abstraction: same code path for a local folder and an s3:// root (moto server on loopback)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from egress_optimizer.errors import InputError
from egress_optimizer.lake import MARKER, Lake


def _table(n: int, tag: str) -> pa.Table:
    return pa.table({"id": list(range(n)), "tag": [tag] * n})


def _exercise(lake: Lake) -> None:
    lake.write_part("vpc_flow", _table(3, "a"), {"account": "111", "dt": "2026-10-01"}, "obj-1")
    lake.write_part("vpc_flow", _table(2, "b"), {"account": "111", "dt": "2026-10-02"}, "obj-2")
    assert lake.tables() == ["vpc_flow"]
    t = lake.read("vpc_flow")
    assert t.num_rows == 5
    assert set(t.column("account").to_pylist()) == {"111"}  # partition columns come back
    # Re-writing the same source object replaces its file: no duplicates, ever.
    for _ in range(3):
        lake.write_part("vpc_flow", _table(3, "a2"), {"account": "111", "dt": "2026-10-01"}, "obj-1")
    t = lake.read("vpc_flow")
    assert t.num_rows == 5
    assert sorted(set(t.column("tag").to_pylist())) == ["a2", "b"]
    assert len(lake.files("vpc_flow")) == 2
    # A re-ingest that lands in a different partition removes the old file first.
    assert lake.delete_files("vpc_flow", "obj-2") == 1
    assert lake.read("vpc_flow").num_rows == 3
    lake.write_json("manifests/run.json", {"ok": True})
    assert lake.read_json("manifests/run.json") == {"ok": True}


def test_local_lake(tmp_path):
    lake = Lake.open(str(tmp_path / "lake"))
    assert (tmp_path / "lake" / MARKER).exists()
    _exercise(lake)
    assert not list((tmp_path / "lake").rglob("*.tmp-*"))  # atomic writes leave no temporaries


def test_open_existing_requires_marker(tmp_path):
    with pytest.raises(InputError, match="not an egress lake"):
        Lake.open(str(tmp_path), create=False)
    Lake.open(str(tmp_path))
    assert Lake.open(str(tmp_path), create=False).root == str(tmp_path)


def test_bad_roots_and_names(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError):
        Lake.open(str(f))
    with pytest.raises(InputError):
        Lake.open("gs://bucket/lake")
    lake = Lake.open(str(tmp_path / "l"))
    with pytest.raises(ValueError):
        lake.write_part("../escape", _table(1, "x"), {}, "id")
    with pytest.raises(ValueError):
        lake.write_part("ok", _table(1, "x"), {"p": "a/b"}, "id")
    with pytest.raises(ValueError):
        lake.write_part("ok", _table(1, "x"), {}, "../../id")
    with pytest.raises(InputError, match="no table"):
        lake.read("missing")


@pytest.fixture()
def moto_s3(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="egress-lake-test")
    yield endpoint
    server.stop()


def test_s3_lake_through_the_same_code(moto_s3):
    import boto3

    lake = Lake.open("s3://egress-lake-test/lake")
    _exercise(lake)
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=moto_s3).list_objects_v2(Bucket="egress-lake-test")["Contents"]
    ]
    assert f"lake/{MARKER}" in keys
    assert any(k.startswith("lake/vpc_flow/account=111/dt=2026-10-01/obj-1.parquet") for k in keys)
    assert lake.uri("vpc_flow") == "s3://egress-lake-test/lake/vpc_flow"


# ---- tables of the registry --------------------------------------------------------------------------------------
def _cur_daily_rows() -> pa.Table:
    import datetime as dt

    return pa.table(
        {
            "day": [dt.date(2026, 10, 1), dt.date(2026, 10, 1), dt.date(2026, 10, 2), dt.date(2026, 10, 1)],
            "account": ["111122223333", "111122223333", "111122223333", None],
            "region": ["us-east-1", None, "us-east-1", "eu-west-1"],
            "usage_type": ["DataTransfer-Out-Bytes", "US-DataTransfer-Out-Bytes", "DataTransfer-Out-Bytes", "x"],
            "product_code": ["AmazonEC2", "AmazonCloudFront", "AmazonEC2", "AmazonEC2"],
            "usage_amount": [1.0, 2.0, 3.0, 4.0],
            "cost_usd": [0.09, 0.17, 0.27, 0.36],
        }
    )


def test_a_derived_table_is_partitioned_and_read_back_as_the_registry_says(tmp_path):
    from egress_optimizer.tables import CUR_DAILY

    lake = Lake.open(str(tmp_path / "lake"))
    rows = _cur_daily_rows()
    paths = lake.replace_table(CUR_DAILY, rows)
    base = tmp_path / "lake" / "cur_daily"
    # the account is the partition and, in the files, the account_id column; no region is global, no
    # account is unknown (the files say so as the log tables do)
    assert sorted(str(p)[len(str(base)) + 1 :] for p in paths) == [
        "account=111122223333/aws_region=global/dt=2026-10-01/part-0.parquet",
        "account=111122223333/aws_region=us-east-1/dt=2026-10-01/part-0.parquet",
        "account=111122223333/aws_region=us-east-1/dt=2026-10-02/part-0.parquet",
        "account=unknown/aws_region=eu-west-1/dt=2026-10-01/part-0.parquet",
    ]
    import pyarrow.parquet as pq

    stored = pq.read_table(base / "account=111122223333/aws_region=us-east-1/dt=2026-10-01/part-0.parquet")
    assert "account_id" in stored.column_names and "account" not in stored.column_names
    back = lake.read_table(CUR_DAILY).to_pandas().sort_values("cost_usd").reset_index(drop=True)
    assert list(back.columns) == CUR_DAILY.columns
    want = rows.to_pandas().sort_values("cost_usd").reset_index(drop=True)
    assert back["cost_usd"].tolist() == want["cost_usd"].tolist()
    assert back["account"].tolist() == want["account"].tolist()  # None stays None in the data
    # a rebuild replaces the table whole
    lake.replace_table(CUR_DAILY, rows.slice(0, 1))
    assert lake.read_table(CUR_DAILY).num_rows == 1 and len(lake.files(CUR_DAILY)) == 1
    assert lake.read_table(CUR_DAILY, columns=["account", "cost_usd"]).column_names == ["account", "cost_usd"]


def test_upsert_merges_by_key_and_never_duplicates(tmp_path):
    from egress_optimizer.tables import CUR_DAILY

    lake = Lake.open(str(tmp_path / "lake"))
    rows = _cur_daily_rows()
    key = ["day", "account", "region", "usage_type"]
    lake.upsert(CUR_DAILY, rows, key, "detect")
    lake.upsert(CUR_DAILY, rows, key, "detect")
    assert lake.read_table(CUR_DAILY).num_rows == 4
    changed = rows.slice(0, 1).set_column(6, "cost_usd", pa.array([9.0]))
    lake.upsert(CUR_DAILY, changed, key, "detect")
    back = lake.read_table(CUR_DAILY).to_pandas()
    assert len(back) == 4 and sorted(back.cost_usd) == [0.17, 0.27, 0.36, 9.0]


def test_the_registry_refuses_rows_that_lack_a_column(tmp_path):
    from egress_optimizer.tables import CUR_DAILY

    lake = Lake.open(str(tmp_path / "lake"))
    with pytest.raises(ValueError, match="cost_usd"):
        lake.write_table(CUR_DAILY, _cur_daily_rows().drop_columns(["cost_usd"]))


def test_files_an_older_version_wrote_read_with_the_newer_columns_null(tmp_path):
    """A derived table gains a column (``usage_type`` here): the files written before it read back with it null,
    the newer files with their values, whichever file the reader opens first."""
    import pyarrow.parquet as pq

    from egress_optimizer.tables import CUR_DAILY

    lake = Lake.open(str(tmp_path / "lake"))
    paths = sorted(lake.replace_table(CUR_DAILY, _cur_daily_rows()))
    older = paths[0]
    pq.write_table(pq.read_table(older).drop_columns(["usage_type"]), older)
    back = lake.read_table(CUR_DAILY).to_pandas()
    assert len(back) == 4 and back.usage_type.isna().sum() == pq.read_table(older).num_rows
    assert back.usage_type.notna().sum() == 4 - pq.read_table(older).num_rows > 0
