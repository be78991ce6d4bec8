"""The lab's simulated clock.

The implementation lives in :mod:`fakes.clock` because every fake takes the clock
as a dependency and the fakes must not import :mod:`simlab`; this module is the
public name users import.
"""

from fakes.clock import (
    DEFAULT_START,
    SimClock,
    TimerHandle,
    from_filetime,
    interval_to_timedelta,
    timedelta_to_interval,
    to_filetime,
    to_generalized_time,
)

__all__ = [
    "DEFAULT_START",
    "SimClock",
    "TimerHandle",
    "from_filetime",
    "interval_to_timedelta",
    "timedelta_to_interval",
    "to_filetime",
    "to_generalized_time",
]
