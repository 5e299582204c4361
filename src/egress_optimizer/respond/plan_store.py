"""The local store of remediation plans and what became of them, for ``egress remediate``.

One JSON file per plan, ``<root>/plans/plan-<first 12 hex digits of the plan hash>.json``, holding the plan, its
incident, when it was made, and one *run* per application: the prior configuration apply found (what rollback
writes back), when and on whose approval it was applied, whether it verified, and when and by whom it was
rolled back. A plan rolled back may be applied again (with a new approval): its runs are its history. Files
are written atomically (a temporary file in the same folder, then ``os.replace``), so a crash leaves the old
record or the new one, never half of one.

Approval tokens are single use: a token's SHA-256 digest is created in ``<root>/used-tokens/`` with
``O_CREAT | O_EXCL`` (the local analogue of the approvals table's conditional write); a second use is refused.
The ledger is per store: operators who apply from different machines should share one store folder.

The store holds configuration as it was (bucket policies, security group rules): its folders are created
readable by their owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egress_optimizer.errors import InputError
from egress_optimizer.respond.actions import Applied, Plan
from egress_optimizer.respond.approval_tokens import Refused

STATE_DIR_ENV = "EGRESS_STATE_DIR"
DEFAULT_DIR = Path("~/.egress/remediation")
PLAN_ID = re.compile(r"^plan-[0-9a-f]{12}$")
FORMAT = 1

PLANNED, APPLIED, ROLLED_BACK = "planned", "applied", "rolled_back"


def plan_id_of(plan: Plan) -> str:
    return "plan-" + plan.hash[:12]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class Run(BaseModel):
    """One application of a plan, and its rollback once there is one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    applied: Applied
    applied_at: datetime
    approver: str
    approval_id: str = ""
    verified: bool | None = None
    rolled_back_at: datetime | None = None
    rolled_back_by: str = ""
    rollback_detail: str = ""


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = FORMAT
    plan_id: str
    incident_id: str
    created_at: datetime
    plan: Plan
    runs: list[Run] = Field(default_factory=list)

    @property
    def last(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    @property
    def status(self) -> str:
        if self.last is None:
            return PLANNED
        return ROLLED_BACK if self.last.rolled_back_at is not None else APPLIED

    def with_last(self, run: Run) -> Record:
        """This record with its last run replaced by ``run``."""
        return self.model_copy(update={"runs": [*self.runs[:-1], run]})

    def with_new_run(self, run: Run) -> Record:
        return self.model_copy(update={"runs": [*self.runs, run]})


class PlanStore:
    """Plans and their runs under ``root`` (see the module's docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()

    @classmethod
    def open(cls, root: str | Path | None = None) -> PlanStore:
        """The store at ``root``; else ``$EGRESS_STATE_DIR``; else ``~/.egress/remediation``."""
        chosen = root or os.environ.get(STATE_DIR_ENV) or DEFAULT_DIR
        store = cls(chosen)
        if store.root.exists() and not store.root.is_dir():
            raise InputError(f"plan store {store.root} exists and is not a directory")
        return store

    # ---- paths -----------------------------------------------------------------------------------------------
    @property
    def plans_dir(self) -> Path:
        return self.root / "plans"

    @property
    def ledger_dir(self) -> Path:
        return self.root / "used-tokens"

    def _ensure(self, folder: Path) -> Path:
        try:
            if not self.root.exists():
                self.root.parent.mkdir(parents=True, exist_ok=True)
                self.root.mkdir(mode=0o700, exist_ok=True)  # the store itself: its owner only
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"plan store {self.root}: {exc.strerror or exc}") from None
        return folder

    def path_of(self, plan_id: str) -> Path:
        if not PLAN_ID.match(plan_id):
            raise InputError(
                f"{plan_id!r} is not a plan id (plan- and 12 hex digits, as `egress remediate plan` prints)"
            )
        return self.plans_dir / f"{plan_id}.json"

    # ---- records ---------------------------------------------------------------------------------------------
    def add(self, incident_id: str, plan: Plan) -> Record:
        """Keep ``plan`` under its plan id. The same plan made again keeps its record (and its history)."""
        plan_id = plan_id_of(plan)
        if self.path_of(plan_id).exists():
            existing = self.load(plan_id)
            if existing.plan.hash != plan.hash:
                raise InputError(f"plan id {plan_id} is taken by another plan (hash {existing.plan.hash})")
            return existing
        record = Record(plan_id=plan_id, incident_id=incident_id, created_at=_now(), plan=plan)
        self.save(record)
        return record

    def load(self, plan_id: str) -> Record:
        path = self.path_of(plan_id)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise InputError(f"no plan {plan_id} in {self.plans_dir} (plan ids come from `egress remediate plan`; "
                             "give the same --store)") from None  # fmt: skip
        except OSError as exc:
            raise InputError(f"plan {plan_id}: {exc.strerror or exc}") from None
        try:
            record = Record.model_validate_json(text)
        except ValidationError as exc:
            raise InputError(f"plan {plan_id}: {path} is not a plan record ({exc.errors()[0]['msg']})") from None
        if record.plan_id != plan_id or plan_id_of(record.plan) != plan_id:
            raise InputError(f"plan {plan_id}: {path} holds another plan")
        return record

    def save(self, record: Record) -> None:
        self._write_atomic(self.path_of(record.plan_id), record.model_dump_json(indent=2).encode())

    def records(self) -> list[Record]:
        if not self.plans_dir.is_dir():
            return []
        return [self.load(p.stem) for p in sorted(self.plans_dir.glob("plan-*.json")) if PLAN_ID.match(p.stem)]

    def _write_atomic(self, path: Path, data: bytes) -> None:
        folder = self._ensure(path.parent)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # ---- single-use tokens -------------------------------------------------------------------------------------
    def consume_token(self, token: str, note: dict) -> None:
        """Mark ``token`` used, once: ``Refused`` when it already was (by this store)."""
        path = self._ensure(self.ledger_dir) / token_digest(token)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            used = ""
            with contextlib.suppress(OSError, ValueError):
                used = f" (at {json.loads(path.read_text())['used_at']})"
            raise Refused(f"approval token already used{used}: an approval applies once; ask for a new one") from None
        with os.fdopen(fd, "w") as fh:
            json.dump({"used_at": _now().isoformat(), **note}, fh, sort_keys=True, default=str)

    def token_used(self, token: str) -> bool:
        return (self.ledger_dir / token_digest(token)).exists()

    # ---- exclusive work on plans -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self, plan_ids: list[str]) -> Iterator[None]:
        """Hold ``<plan id>.lock`` for each plan (``O_EXCL``), so two processes never apply or roll back the
        same plan at once; ``Refused`` when another holds one."""
        held: list[Path] = []
        try:
            for plan_id in sorted(set(plan_ids)):
                lock = self.path_of(plan_id).with_suffix(".lock")
                self._ensure(lock.parent)
                try:
                    os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                except FileExistsError:
                    raise Refused(f"plan {plan_id} is being applied or rolled back by another process (remove "
                                  f"{lock} if none is)") from None  # fmt: skip
                held.append(lock)
            yield
        finally:
            for lock in held:
                with contextlib.suppress(OSError):
                    lock.unlink()
