"""Remediation policy as data (YAML): what may be proposed where, how much at once, when, and who decides.

    max_resources_per_run: 5            # blast radius: plans beyond this many are not proposed in one run
    actions:
      s3.block-public-access:
        accounts: ["111122223333"]      # opt-in per account ("*" for all); absent: every account
        approvers: ["alice@example.com", "U0ALICE"]
      vpc.add-gateway-endpoint:
        auto_apply: true                # applied without waiting for a person (still in a change window)
    change_windows:                     # UTC; absent: any time
      - {days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00"}

Dry-run is the default everywhere: a policy can only narrow what is proposed, who may approve it and when it
may be applied, except ``auto_apply``, which names an action that may apply without a person's approval
(none by default; an incident's plans apply by themselves only when every one of them may). What is applied
that way is recorded with the approver ``policy:auto-apply`` and verified and rolled back like any other.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egress_optimizer.errors import InputError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


AUTO_APPROVER = "policy:auto-apply"


class ActionRule(_Strict):
    accounts: list[str] | None = None
    approvers: list[str] = Field(default_factory=list)
    auto_apply: bool = False


class ChangeWindow(_Strict):
    days: list[str] = Field(default_factory=lambda: list(DAYS))
    start: time = time(0, 0)
    end: time = time(23, 59, 59)

    def contains(self, at: datetime) -> bool:
        return DAYS[at.weekday()] in [d.lower()[:3] for d in self.days] and self.start <= at.time() <= self.end


class Policy(_Strict):
    max_resources_per_run: int = Field(5, ge=1)
    actions: dict[str, ActionRule] = Field(default_factory=dict)
    change_windows: list[ChangeWindow] = Field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path | None) -> Policy:
        """The policy in ``path``; the default (nothing automatic, five resources, any time) when None."""
        if path is None:
            return cls()
        try:
            doc = yaml.safe_load(Path(path).read_text()) or {}
            return cls.model_validate(doc)
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"remediation policy {path}: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"remediation policy {path}: {where}: {first['msg']}") from None

    def allows(self, action_id: str, account: str) -> bool:
        rule = self.actions.get(action_id)
        return rule is None or rule.accounts is None or "*" in rule.accounts or account in rule.accounts

    def auto_applies(self, action_id: str, account: str) -> bool:
        rule = self.actions.get(action_id)
        return bool(rule and rule.auto_apply and self.allows(action_id, account))

    def may_decide(self, action_id: str, approver: str) -> bool:
        """Whether ``approver`` may decide ``action_id`` (anyone the approval reached, when none are named)."""
        rule = self.actions.get(action_id)
        return rule is None or not rule.approvers or approver in rule.approvers

    def approvers_of(self, action_id: str) -> list[str]:
        rule = self.actions.get(action_id)
        return list(rule.approvers) if rule else []

    def in_window(self, at: datetime) -> bool:
        return not self.change_windows or any(w.contains(at) for w in self.change_windows)
