"""Where the attribute and features stages run in AWS: a Lambda for a small backlog, the Glue job for a large one.

The backlog is read from the journal (``egress_optimizer.changes``), not from the lake: the log hours the attribute
stage has not consumed and the bytes of the log files that hold them, the attributed hours the features stage has
not consumed, and the CUR partitions the roll-up has not. New attribution inputs (inventory, prices, IP ranges,
networks) mean a rebuild, whose backlog is every log file. Both runners call the same stage
(``stages.build_features``), so the choice changes where the work runs, never what it writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow.fs as pafs

from egress_optimizer import changes
from egress_optimizer.attribution.inputs import AttributionInputs
from egress_optimizer.attribution.up_to_date import ATTRIBUTE, CUR_ROLL_UP, FEATURES, LOG_INPUTS, inputs_stale
from egress_optimizer.contracts.events import EVENT_SOURCE, FEATURES_UPDATED
from egress_optimizer.lake import Lake
from egress_optimizer.tables import ATTRIBUTED, CUR

# A Lambda (10 GB at most) attributes about a million flow records a minute in one day's batch; a few hundred MB
# of compressed logs is minutes of work. Larger backlogs (a rebuild, a day of a busy VPC) go to Glue.
DEFAULT_LAMBDA_MAX_BYTES = 256 * 1024**2
_ACTIVE_GLUE_STATES = {"STARTING", "RUNNING", "STOPPING", "WAITING"}


class Runner(StrEnum):
    NONE = "none"
    LAMBDA = "lambda"
    GLUE = "glue"


@dataclass(frozen=True)
class Backlog:
    """What the next attribute + features run has to do."""

    log_hours: int
    log_bytes: int
    attributed_hours: int
    cur_partitions: int
    rebuild: bool

    @property
    def empty(self) -> bool:
        return not (self.log_hours or self.attributed_hours or self.cur_partitions or self.rebuild)

    def to_json(self) -> dict:
        return {
            "log_hours": self.log_hours,
            "log_bytes": self.log_bytes,
            "attributed_hours": self.attributed_hours,
            "cur_partitions": self.cur_partitions,
            "rebuild": self.rebuild,
        }


def backlog(lake: Lake, inputs: AttributionInputs) -> Backlog:
    """The work waiting for the attribute and features stages (see the module docstring)."""
    rebuild = inputs_stale(lake, inputs.fingerprint)
    hours, size = 0, 0
    for table in LOG_INPUTS:
        if rebuild:
            size += sum(_sizes(lake, lake.path(table.name)))
            continue
        pending = changes.pending(lake, ATTRIBUTE, table)
        hours += sum(len(h) for h in pending.hours.values())
        size += sum(sum(_sizes(lake, lake.path(table.name, partition))) for partition in pending.hours)
    if rebuild:
        hours = sum(len(lake.days(t)) * 24 for t in LOG_INPUTS)
    features = changes.pending(lake, FEATURES, ATTRIBUTED)
    cur = changes.pending(lake, CUR_ROLL_UP, CUR)
    return Backlog(hours, size, len(features.all_hours), len(cur.hours), rebuild)


def _sizes(lake: Lake, folder: str) -> list[int]:
    sel = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
    return [i.size for i in lake.fs.get_file_info(sel) if i.type == pafs.FileType.File and i.path.endswith(".parquet")]


def choose_runner(work: Backlog, lambda_max_bytes: int = DEFAULT_LAMBDA_MAX_BYTES) -> Runner:
    """Nothing to do, a Lambda-sized backlog, or one for Glue (a rebuild of more than the Lambda bound too)."""
    if work.empty:
        return Runner.NONE
    return Runner.GLUE if work.log_bytes > lambda_max_bytes else Runner.LAMBDA


def glue_job_running(glue: Any, job_name: str) -> str | None:
    """The id of a run of ``job_name`` still in progress (the job will pick up the new backlog), else None."""
    for run in glue.get_job_runs(JobName=job_name, MaxResults=10).get("JobRuns", []):
        if run.get("JobRunState") in _ACTIVE_GLUE_STATES:
            return run["Id"]
    return None


def start_glue_job(glue: Any, job_name: str, lake_uri: str) -> str | None:
    """Start the Glue attribution job on the lake unless a run is already in progress; returns the new run's
    id, or None when one was running (a concurrent-run refusal counts as running: the run in progress consumes
    the journal, so nothing is lost)."""
    if glue_job_running(glue, job_name):
        return None
    try:
        return glue.start_job_run(JobName=job_name, Arguments={"--LAKE_URI": lake_uri})["JobRunId"]
    except glue.exceptions.ConcurrentRunsExceededException:
        return None


def announce_features(events: Any, bus: str, lake_uri: str, summary: dict) -> None:
    """Put "Features Updated" on the bus (the detect Lambda's trigger); a refused entry raises so the run is
    retried (re-running finds no backlog and only announces again)."""
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": FEATURES_UPDATED,
        "Detail": json.dumps({"lake": lake_uri, **summary}),
        "EventBusName": bus,
    }
    response = events.put_events(Entries=[entry])
    if response.get("FailedEntryCount"):
        code = response["Entries"][0].get("ErrorCode", "unknown")
        raise RuntimeError(f"EventBridge refused the {FEATURES_UPDATED} event: {code}")
