"""Monthly tier accumulation, as AWS bills volume-tiered data transfer.

AWS meters tiered usage cumulatively through the calendar month: the first GB of the month are
charged at the first tier's rate (after any free allowance), and a usage record that straddles a
tier boundary is billed as two slices at two rates. ``TierMeter`` reproduces that so that the same
usage priced here and in a CUR line item agree to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from egress_optimizer.pricing.catalog import Tiers


@dataclass(frozen=True)
class TierSlice:
    gb: float
    rate: float
    tier_index: int  # -1 for the free allowance

    @property
    def cost(self) -> float:
        return self.gb * self.rate


@dataclass
class TierMeter:
    """Cumulative usage per meter key (for example (payer, month, region)) and its free allowance.

    ``free_key`` groups meters that share one free allowance (AWS's 100 GB internet egress is shared
    by all regions of a payer in a month, while the paid tiers accumulate per region).
    """

    used_gb: dict[tuple, float] = field(default_factory=dict)
    free_used_gb: dict[tuple, float] = field(default_factory=dict)

    def consume(
        self, key: tuple, gb: float, tiers: Tiers, free_key: tuple | None = None, free_gb: float = 0.0
    ) -> list[TierSlice]:
        slices: list[TierSlice] = []
        remaining = float(gb)
        if remaining <= 0:
            return slices
        if free_key is not None and free_gb > 0:
            free_left = free_gb - self.free_used_gb.get(free_key, 0.0)
            if free_left > 0:
                take = min(free_left, remaining)
                self.free_used_gb[free_key] = self.free_used_gb.get(free_key, 0.0) + take
                slices.append(TierSlice(take, 0.0, -1))
                remaining -= take
        used = self.used_gb.get(key, 0.0)
        lower = 0.0
        for i, (upper, rate) in enumerate(tiers):
            if remaining <= 0:
                break
            if upper is not None and used >= upper:
                lower = upper
                continue
            room = remaining if upper is None else min(remaining, upper - max(used, lower))
            if room > 0:
                slices.append(TierSlice(room, rate, i))
                used += room
                remaining -= room
            lower = upper if upper is not None else lower
        self.used_gb[key] = used
        return slices


def tiered_cost(gb: float, tiers: Tiers, already_used_gb: float = 0.0, free_gb: float = 0.0) -> float:
    """Dollar cost of ``gb`` on top of ``already_used_gb`` this month (convenience for one meter)."""
    meter = TierMeter()
    if already_used_gb:
        meter.consume(("k",), already_used_gb, tiers, ("f",), free_gb)
    return sum(s.cost for s in meter.consume(("k",), gb, tiers, ("f",), free_gb))
