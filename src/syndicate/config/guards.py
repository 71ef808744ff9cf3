"""``[delivery] warmup`` and ``[delivery.breakers]``: the deliverability guards."""

from __future__ import annotations

from pydantic import Field

from syndicate.config.base import Section


class WarmupSettings(Section):
    """A new sending domain's ramp: a daily cap per recipient group, growing
    exponentially from ``start`` to the group's whole list over ``days`` days."""

    start: int = Field(200, ge=1, description="Each group's cap on the first day.")
    days: int = Field(42, ge=1, le=3650, description="Days until the cap is the whole list.")


class BreakerSettings(Section):
    """Circuit breakers: when a recipient group is paused (STYLE 6)."""

    enabled: bool = Field(True, description="Pause groups on the signals below.")
    bounce_rate: float = Field(
        0.02, gt=0, le=1, description="Hard bounces per message sent above which a group pauses."
    )
    complaint_rate: float = Field(
        0.001, gt=0, le=1, description="Complaints per message sent above which a group pauses."
    )
    min_sample: int = Field(
        500, ge=1, description="Messages an edition sends to a group before rates count."
    )
    signatures: bool = Field(
        True, description="Pause on a provider's throttling/reputation replies at once."
    )
    notify: tuple[str, ...] = Field(
        (), description="Operators' addresses that get a notice mail when a group pauses."
    )
