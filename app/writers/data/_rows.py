"""What the SDMX-CSV and SDMX-JSON data writers share: where things are in a row, which
components a message shows at which level, period normalisation and chunked output.

A row is `(<series dimensions...>, <observation dimension>, <measure>, <attributes...>)`
(`app.model.response`); with `AllDimensions` the "series dimensions" are empty and every key
column comes first. Writers never look at a value twice when they can help it: they slice rows
and look values up in dicts built once per message.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final

from app.model.dsd import Level
from app.model.response import DataResponse

CHUNK_SIZE: Final = 64 * 1024  # characters gathered before a writer yields
ALL_DIMENSIONS: Final = "AllDimensions"
URN_PREFIX: Final = "urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow="
ACTIONS: Final = ("Information", "Append", "Replace", "Delete")


@dataclass(frozen=True)
class Layout:
    """Where the parts of a row are and what a message shows (from `detail` and the levels)."""

    key_width: int  # series dimensions (0 with AllDimensions)
    obs_dimension: int  # index of the observation dimension (the last key column)
    measure: int  # index of the measure
    dimensions: tuple[str, ...]  # key columns of a row, in row order
    dsd_order: tuple[int, ...]  # indexes of the key columns in DSD order
    series_attributes: tuple[int, ...]  # row indexes of attributes shown on series
    obs_attributes: tuple[int, ...]  # row indexes of attributes shown on observations
    dataset_in_rows: tuple[int, ...]  # row indexes of dataset-level attributes
    dataset_extra: tuple[str, ...]  # dataset-level attributes not in rows (block.attributes)
    observations: bool  # False for serieskeysonly and nodata
    values: bool  # write measure values (False for serieskeysonly and nodata)
    flat: bool

    def attribute_ids(self, response: DataResponse) -> tuple[str, ...]:
        """Attribute columns in row order, then the dataset-level ones not in rows."""
        shown = {*self.series_attributes, *self.obs_attributes, *self.dataset_in_rows}
        in_rows = tuple(response.columns[i] for i in sorted(shown))
        return in_rows + self.dataset_extra


def layout(response: DataResponse) -> Layout:
    """The row layout of `response`; attributes follow `detail` (full: all; nodata: dataset and
    series level; dataonly, serieskeysonly: none)."""
    flow, columns = response.flow, response.columns
    flat = response.dimension_at_observation == ALL_DIMENSIONS
    key_width = 0 if flat else len(response.series_dimensions)
    time = flow.time_dimension or "TIME_PERIOD"
    dims = flow.dimensions + (time,)
    n_keys = len(dims)
    if flat:
        key_columns = columns[:n_keys]
    else:
        key_columns = (*response.series_dimensions, response.dimension_at_observation)
    if sorted(key_columns) != sorted(dims) or columns[: len(key_columns)] != key_columns:
        raise ValueError(f"row columns {columns} do not start with the key of {flow.ref}")
    measure = len(key_columns)
    detail = response.detail
    levels = {
        i: flow.components[c].level if c in flow.components else Level.OBSERVATION
        for i, c in enumerate(columns)
        if i > measure
    }
    time_series = not flat and response.dimension_at_observation == time
    shown = [] if detail in ("dataonly", "serieskeysonly") else list(levels)
    dataset = tuple(i for i in shown if levels[i] == Level.DATASET)
    series = tuple(i for i in shown if levels[i] == Level.SERIES and time_series)
    obs = tuple(i for i in shown if i not in dataset and i not in series and detail != "nodata")
    in_rows = set(columns)
    extra = (
        tuple(a for a in flow.attributes_at(Level.DATASET) if a not in in_rows)
        if detail in ("full", "nodata")
        else ()
    )
    position = {d: i for i, d in enumerate(key_columns)}
    return Layout(
        key_width=key_width,
        obs_dimension=measure - 1,
        measure=measure,
        dimensions=tuple(key_columns),
        dsd_order=tuple(position[d] for d in dims),
        series_attributes=series,
        obs_attributes=obs,
        dataset_in_rows=dataset,
        dataset_extra=extra,
        observations=detail in ("full", "dataonly"),
        values=detail in ("full", "dataonly"),
        flat=flat,
    )


def series_heads(rows: Iterable[tuple], width: int) -> Iterator[tuple]:
    """The first row of each series (rows of one series are consecutive)."""
    previous = None
    for row in rows:
        key = row[:width]
        if key != previous:
            previous = key
            yield row


def check_action(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"dataset action {action!r}; expected one of {', '.join(ACTIONS)}")
    return action


def timestamp(moment: datetime) -> str:
    """ISO 8601 date-time with an offset (naive datetimes are UTC), seconds precision."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def chunked(parts: Iterable[str], size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Join string pieces into UTF-8 chunks of about `size` characters."""
    buffer: list[str] = []
    length = 0
    for part in parts:
        buffer.append(part)
        length += len(part)
        if length >= size:
            yield "".join(buffer).encode()
            buffer.clear()
            length = 0
    if buffer:
        yield "".join(buffer).encode()


# -- SDMX-CSV timeFormat=normalized ------------------------------------------------------------

_REPORTING = re.compile(r"(\d{4})-([ASTQMWD])(\d{1,3})")
_MONTHS_PER = {"A": 12, "S": 6, "T": 4, "Q": 3, "M": 1}
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@lru_cache(maxsize=4096)
def normalized_period(period: str) -> str:
    """The start of an SDMX time period as an ISO 8601 date (date-times and the start of time
    ranges as written): `2014` -> `2014-01-01`, `2014-Q2` -> `2014-04-01`, `2014-01` ->
    `2014-01-01`, `2014-W02` -> `2014-01-06` (Monday), `2014-01-01/P3M` -> `2014-01-01`.

    SDMX-CSV asks for "the most granular ISO 8601 representation taking into account the highest
    frequency of the data in the message and the moment in time when the lower-frequency values
    were collected"; a streaming writer cannot know the highest frequency before the last row,
    and DSM's flows have no collection-moment attribute, so periods are placed at their start
    (as in the specification's examples, where `2014-01` becomes `2014-01-01`). A value that is
    not an SDMX period is written unchanged."""
    start = period.split("/", 1)[0]
    if len(start) == 4 and start.isdigit():
        return f"{start}-01-01"
    if m := _MONTH.fullmatch(start):
        return f"{m[1]}-{m[2]}-01"
    m = _REPORTING.fullmatch(start)
    if m is None:
        return start
    year, kind, number = int(m[1]), m[2], int(m[3])
    try:
        if kind == "W":
            day = date.fromisocalendar(year, number, 1)
        elif kind == "D":
            day = date(year, 1, 1) + timedelta(days=number - 1)
            if day.year != year:
                return period
        else:
            day = date(year, (number - 1) * _MONTHS_PER[kind] + 1, 1)
    except ValueError:
        return period
    return day.isoformat()
