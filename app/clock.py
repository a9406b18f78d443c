"""The time DSM works by. Everything that decides what is visible (embargoes, `asOf`, release
moves) asks a `Clock`, so that tests can stand before, at and after a release time exactly."""

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock UTC time; tests set `fixed` (or `offset`) to move it."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC) + self.offset
