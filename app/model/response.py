"""What a data query hands to a data writer: the message header facts and a stream of datasets,
each a stream of rows ordered by series. Writers only format; they never query or decide.

Rows are tuples aligned with `DataResponse.columns`:

    (<series dimensions...>, <observation dimension>, <measure>, <attributes...>)

where the observation dimension is `dimension_at_observation` (TIME_PERIOD by default; a
dimension for cross-sectional output). With `AllDimensions` there are no series: every row is an
observation with its full key. Rows of one series are consecutive, ordered by the observation
dimension; a writer starts a new series whenever the series-dimension values change. `None`
means "no value": writers omit it (never an empty string).

Series-level attribute values repeat on every row of a series; writers take them from the first
row. `detail` says what to write (full; dataonly: no attributes; serieskeysonly: series keys only,
no observations; nodata: series keys and series attributes, no observations).
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from app.model.dsd import CompiledFlow


class Labels(Protocol):
    """Names for labels (SDMX-CSV `labels=name|both`, SDMX-JSON names), in the response language."""

    def component(self, component_id: str) -> str | None: ...

    def code(self, component_id: str, code: str) -> str | None: ...


@dataclass
class DatasetBlock:
    """One dataset of the response: current data (action Information/Replace), deletions
    (action Delete: rows carry only the key, values None), or one historical version."""

    rows: Iterable[tuple]
    action: str = "Information"  # SDMX-ML word: Information | Replace | Delete
    valid_from: datetime | None = None  # history: when this version became visible
    valid_to: datetime | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # dataset-level attributes
    # the same rows read again as SDMX-CSV lines or SDMX-ML elements (`app.storage.csv_export`,
    # `app.storage.xml_export`), when they are exactly the rows of one stored statement; None
    # otherwise
    export: "LineSource | None" = None


class LineSource(Protocol):
    def chunks(
        self, head: str, end: str, careful: Callable[[Sequence[object]], str]
    ) -> Iterator[bytes]:
        """`head + cells + end` for each row, as byte chunks; `careful(cells)` quotes."""
        ...

    def elements(
        self,
        series: Sequence[tuple[int, str]],
        obs: Sequence[tuple[int, str]],
        head: Callable[[tuple], str],
        careful: Callable[[Iterable[tuple], str | None], Iterator[str]],
    ) -> Iterator[str]:
        """SDMX-ML structure-specific `Series`/`Obs` elements of a time-series layout: `series`
        and `obs` are the (column, component id) fields of each; `head(values)` writes a series
        element of the series fields' values; `careful(rows, opened)` writes rows as cells,
        `opened` the series element left open."""
        ...


@dataclass
class DataResponse:
    id: str
    prepared: datetime
    flow: CompiledFlow
    dimension_at_observation: str  # "TIME_PERIOD", a dimension id, or "AllDimensions"
    columns: tuple[str, ...]
    series_dimensions: tuple[
        str, ...
    ]  # the dimensions that make the series key (none for AllDimensions)
    attributes: tuple[str, ...]  # attribute columns present in rows (none for dataonly)
    datasets: Iterator[DatasetBlock]
    detail: str = "full"
    sender: str = "DSM"
    lang: str = "en"
    labels: Labels | None = None
    # SDMX-CSV options: labels = id | name | both; time_format = original | normalized;
    # keys = none | obs | series | both (SDMX-CSV 2.0 only)
    csv_labels: str = "id"
    csv_time_format: str = "original"
    csv_keys: str = "none"
    structure_urn: str = ""  # the dataflow's URN, for headers and links

    @property
    def observation_dimension(self) -> str | None:
        return (
            None
            if self.dimension_at_observation == "AllDimensions"
            else self.dimension_at_observation
        )
