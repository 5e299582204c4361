"""Generator profiles: how far the synthetic estate departs from a tidy textbook one.

``realistic`` (the default) gives every series autocorrelated, heavy-tailed noise and its own trend, local
time with daylight saving, team-specific weeks and public holidays, benign bursts and run-rate changes,
incomplete logging, late and duplicated deliveries, a bill with discounts, credits and services whose data
transfer no log shows, and planned work declared as loosely as people declare it. ``clean`` keeps the
earlier i.i.d. noise on a complete, exactly billed estate, for unit tests that check one mechanism at a time.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    default_start: str = "2026-10-01"  # first day when none is given
    ar_phi: tuple[float, float] = (0.0, 0.0)  # lag-1 autocorrelation of log-noise, drawn per series
    t_df: tuple[int, ...] = ()  # Student-t degrees of freedom of the innovations (empty: Gaussian)
    growth_per_day: tuple[float, float] | None = None  # per-series trend range (None: every series 0.4 %/day)
    local_time: bool = False  # daylight saving and public holidays in each region's local time
    team_weeks: bool = False  # each team's own weekend level instead of one for all
    bursts_per_week: float = 0.0  # benign bursts on single resources (batch jobs, crawlers, retry storms)
    run_rate_changes: int = 0  # legitimate level shifts (a customer onboarded)
    coverage_gaps: bool = (
        False  # a VPC without flow logs, a bucket without access logs, missing / late / repeated files
    )
    billing_adjustments: bool = False  # enterprise discount, credits, unlogged services, AWS's rounding
    coarse_planning: bool = False  # planned work declared account-wide, over a wider window, one after the fact


PROFILES = {
    "realistic": Profile(
        "realistic",
        # Two weeks from here cross the end of summer time in Europe (25 Oct) and the US (1 Nov), an Irish
        # bank holiday (26 Oct) and a Brazilian one (2 Nov).
        default_start="2026-10-19",
        ar_phi=(0.5, 0.9),
        t_df=(3, 4, 6),
        growth_per_day=(-0.004, 0.012),
        local_time=True,
        team_weeks=True,
        bursts_per_week=6.0,
        run_rate_changes=2,
        coverage_gaps=True,
        billing_adjustments=True,
        coarse_planning=True,
    ),
    "clean": Profile("clean"),
}
DEFAULT_PROFILE = "realistic"


def profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
