"""Incremental processing by partition, end to end: the shared estate delivered as AWS delivers it (six days
already in the lake, then the last day in 12-hour runs of ingest -> features -> detect, one flow log file
late, one object twice) ends with the tables and incidents of a whole-history build. A late file re-attributes
its own day and re-prices only the later hours of its month whose tiers moved; detection scores again from
the late hour; a run with nothing new does nothing."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egress_optimizer import stages
from egress_optimizer.attribution.up_to_date import QUIET_RUN, up_to_date
from egress_optimizer.detection.detector import DetectorParams
from egress_optimizer.estate.deliveries import by_delivery_hour
from egress_optimizer.lake import Lake
from egress_optimizer.tables import (
    ANOMALIES,
    ATTRIBUTED,
    CLOUDFRONT,
    CUR_DAILY,
    EGRESS_HOURLY,
    FIRST_SEEN,
    INCIDENTS,
    S3_ACCESS,
    TIER_METER,
    VPC_FLOW,
    Table,
)

DERIVED = (ATTRIBUTED, EGRESS_HOURLY, CUR_DAILY, TIER_METER, FIRST_SEEN)
LOGS = (VPC_FLOW, S3_ACCESS, CLOUDFRONT)
BULK_DAYS, STEP_HOURS = 6, 12


def _digests(lake: Lake, table: Table) -> dict[str, str]:
    return {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in lake.files(table)}


@pytest.fixture(scope="module")
def grown(estate_dir, ingested_lake, tmp_path_factory) -> dict:
    """The lake grown run by run; what each run did, and the file digests around the late file."""
    root = tmp_path_factory.mktemp("grown") / "lake"
    shutil.copytree(ingested_lake, root)
    lake = Lake.open(str(root), create=False)
    days = sorted(lake.days(VPC_FLOW))
    later = set(days[BULK_DAYS:])
    for table in LOGS:  # the last days have not arrived yet
        for folder in root.joinpath(table.name).rglob("dt=*"):
            if folder.name.removeprefix("dt=") in later:
                shutil.rmtree(folder)
    stages.build_features(lake)
    stages.train(lake, DetectorParams(mode="baseline"))
    stages.detect(lake)

    by_hour = by_delivery_hour(estate_dir)
    # every delivery after the bulk days (objects delivered just after midnight carry the last minutes)
    hours = sorted(h for h in by_hour if h.strftime("%Y-%m-%d") >= min(later))
    late_hour = hours[6]
    late = next(p for p in by_hour[late_hour] if "vpcflowlogs" in p.as_posix() and p.name.endswith(".log.gz"))
    twice = by_hour[hours[18]][0]
    runs = []
    for i in range(0, len(hours), STEP_HOURS):
        step = hours[i : i + STEP_HOURS]
        files = [p for h in step for p in by_hour[h] if p != late]
        if twice in files:
            files.append(twice)  # a re-delivered object (ingested again in the same run)
        stages.ingest(lake, [str(p) for p in files], key_base=str(estate_dir))
        runs.append((step, stages.build_features(lake), stages.detect(lake)))

    before = {t.name: _digests(lake, t) for t in (ATTRIBUTED, EGRESS_HOURLY)}
    stages.ingest(lake, [str(late)], key_base=str(estate_dir))  # after every later hour was processed
    late_pending = not up_to_date(lake)
    late_build, late_detect = stages.build_features(lake), stages.detect(lake)
    after = {t.name: _digests(lake, t) for t in (ATTRIBUTED, EGRESS_HOURLY)}
    quiet_checked = up_to_date(lake)
    quiet = (stages.build_features(lake), stages.detect(lake))
    return dict(
        lake=lake, runs=runs, late_hour=late_hour, late=(late_build, late_detect), before=before, after=after,
        quiet=quiet, late_pending=late_pending, quiet_checked=quiet_checked,
    )  # fmt: skip


def test_each_run_attributes_only_the_hours_that_arrived(grown):
    for step, built, detected in grown["runs"]:
        attributed = set(built.attribution.attributed_hours)
        # the hours delivered, and the hour before them (a file carries records of the minutes before it)
        assert attributed and attributed <= {*step, step[0] - pd.Timedelta(hours=1)}
        assert not built.attribution.rebuild and not built.features.rebuild
        assert detected.scored_from >= step[0] - pd.Timedelta(hours=1) and detected.scored_to == max(attributed)


def test_a_late_file_redoes_its_day_and_only_the_later_hours_its_tiers_moved(grown):
    built, detected = grown["late"]
    late_hour, before, after = grown["late_hour"], grown["before"], grown["after"]
    day = late_hour.strftime("%Y-%m-%d")
    assert {h.strftime("%Y-%m-%d") for h in built.attribution.attributed_hours} == {day}
    assert not built.attribution.rebuild
    assert built.attribution.repriced_hours, "the late bytes moved the internet tiers of the month"
    assert all(h > late_hour and h.month == late_hour.month for h in built.attribution.repriced_hours)
    old, new = before[ATTRIBUTED.name], after[ATTRIBUTED.name]
    changed = {p for p in set(old) | set(new) if old.get(p) != new.get(p)}
    touched_days = {day} | {h.strftime("%Y-%m-%d") for h in built.attribution.repriced_hours}
    assert changed and all(p.split("/dt=")[1][:10] in touched_days for p in changed)
    earlier = [p for p in old if p.split("/dt=")[1][:10] < day]
    assert earlier and all(old[p] == new[p] for p in earlier)  # no partition before the late day
    old, new = before[EGRESS_HOURLY.name], after[EGRESS_HOURLY.name]
    assert all(old[p] == new[p] for p in old if p.split("/dt=")[1][:10] < day)
    assert min(built.features.hours) >= late_hour.floor("D")
    assert detected.scored_from == min(built.features.hours)  # detection scores again from there


def test_a_run_with_nothing_new_does_nothing(grown, tmp_path):
    built, detected = grown["quiet"]
    assert built.to_json()["attributed"] == built.to_json()["egress_hourly"] == built.to_json()["cur_daily"] == 0
    assert detected.scored_from is None and detected.anomalies == 0 and not detected.new_incidents
    # The pandas-free check the CLI answers a quiet run with agrees with the stages, before and after.
    assert grown["late_pending"] and grown["quiet_checked"] and built.to_json() == QUIET_RUN
    networks = tmp_path / "networks.yaml"
    networks.write_text("on_premises:\n  - name: dc1\n    cidr: 198.51.100.0/24\n")
    assert not up_to_date(grown["lake"], networks_file=networks)  # new attribution inputs: a rebuild is due


def test_the_grown_lake_is_the_whole_history_build(grown, features_lake, tmp_path):
    """The shared features lake is every object ingested at once and built in one run; detection there is
    one run over the whole history with the grown lake's model."""
    lake = grown["lake"]
    whole_root = tmp_path / "whole"
    shutil.copytree(features_lake, whole_root)
    shutil.copytree(Path(lake.root) / "models", whole_root / "models")
    whole = Lake.open(str(whole_root), create=False)
    assert stages.detect(whole).incidents
    for table in DERIVED:
        _assert_same(_rows(lake, table), _rows(whole, table), table.name)
    _assert_same(_rows(lake, ANOMALIES), _rows(whole, ANOMALIES), ANOMALIES.name)
    grown_incidents = sorted(lake.read_table(INCIDENTS).column("incident").to_pylist())
    assert grown_incidents == sorted(whole.read_table(INCIDENTS).column("incident").to_pylist())


def _rows(lake: Lake, table: Table) -> pd.DataFrame:
    df = lake.read_table(table).to_pandas()
    if "signals" in df:
        df["signals"] = df["signals"].astype(str)
    key = [c for c in df.columns if df[c].dtype.kind not in "fc"]
    return df.sort_values(key, na_position="last").reset_index(drop=True)


def _assert_same(got: pd.DataFrame, want: pd.DataFrame, name: str) -> None:
    assert len(got) == len(want) > 0, name
    for col in want.columns:
        a, b = got[col], want[col]
        if b.dtype.kind == "f":
            a, b = a.to_numpy(float), b.to_numpy(float)
            assert (np.isnan(a) == np.isnan(b)).all(), (name, col)
            assert (np.nan_to_num(np.abs(a - b)) <= 1e-9 * np.maximum(np.nan_to_num(np.abs(b)), 1)).all(), (name, col)
        else:
            assert ((a == b) | (a.isna() & b.isna())).all(), (name, col)
