"""Generic SDMX-ML 2.1 data (GenericData and GenericTimeSeriesData).

Components are `gen:Value id=.. value=..` elements inside `gen:SeriesKey`, `gen:ObsKey`,
`gen:GroupKey` and `gen:Attributes`; the observation's own dimension is `gen:ObsDimension`, whose
id is the header's `dimensionAtObservation` for the dataset's structure (TIME_PERIOD by default;
an `id` on the element wins). Key and attribute containers are read whole at their end event (they
are small); an observation is read at its end from its few children. Unlike structure-specific
data, generic groups say which values are key (`GroupKey`) and which are attributes.

Observations are held (`HOLD`) and read in batches. So that nothing but an observation's own end
interrupts a batch, the containers before them are read by whoever needs them: a series' key and
attributes when its first observations (or its end) are read, a group's at its end, the
dataset's attributes when its content starts. Only the elements with handlers have events
(`event_tags`; an observation's five or so children would otherwise be five times the events):
the others are checked to be known as they are read or dropped (`MLParser.sweep`).
"""

from lxml import etree

from app.model.data import OBS_VALUE, GroupAttributes, MessageError, StructureRef
from app.readers.sdmx_ml_core import (
    DEFAULT_DIMENSION_AT_OBSERVATION,
    FOOTER21,
    GEN21,
    HOLD,
    HOLD_LIMIT,
    MES21,
    MISSING,
    MLParser,
    drop_before,
    line,
    local,
)

G = f"{{{GEN21}}}"
VALUE, OBS, SERIES, GROUP = G + "Value", G + "Obs", G + "Series", G + "Group"
SERIES_KEY, GROUP_KEY, OBS_KEY, ATTRIBUTES = (
    G + "SeriesKey",
    G + "GroupKey",
    G + "ObsKey",
    G + "Attributes",
)
OBS_DIMENSION, OBS_VALUE_TAG = G + "ObsDimension", G + "ObsValue"


def _values(container: etree._Element) -> dict[str, str | None]:
    return {v.get("id", ""): v.get("value") for v in container if v.tag == VALUE}


class Generic21(MLParser):
    format_name = "sdmx-ml-2.1-generic"
    dataset_tags = (f"{{{MES21}}}DataSet",)
    skipped_tags = (f"{{{MES21}}}Header", f"{{{FOOTER21}}}Footer", G + "DataProvider")

    event_tags = (
        *dataset_tags,
        "{*}DataSet",  # some writers put it in another namespace (see MLParser.unknown)
        *skipped_tags,
        SERIES,
        GROUP,
        OBS,
    )

    def __init__(self, chunk_size: int) -> None:
        super().__init__(chunk_size)
        self.at_observation = DEFAULT_DIMENSION_AT_OBSERVATION
        self.dataset: etree._Element | None = None
        self.series_elem: etree._Element | None = None  # its key and attributes not read yet
        self.series: dict[str, str | None] = {}
        self.series_rows = 0
        self.on(SERIES, self.series_start, self.series_end)
        self.on(GROUP, self.group_start, self.group_end)
        self.on(OBS, None, HOLD)
        for tag in (
            VALUE,
            SERIES_KEY,
            GROUP_KEY,
            ATTRIBUTES,
            OBS_KEY,
            OBS_DIMENSION,
            OBS_VALUE_TAG,
        ):
            self.on(tag, None, None)  # read by their parent

    def root(self, elem: etree._Element) -> None:
        if elem.tag not in (f"{{{MES21}}}GenericData", f"{{{MES21}}}GenericTimeSeriesData"):
            raise MessageError(
                f"Root element <{local(elem.tag)}> ({elem.tag}) is not generic data; "
                f"expected {{{MES21}}}GenericData",
                line(elem),
            )

    def structure_ref(self, elem: etree._Element) -> str | None:
        return elem.get("structureRef")

    def action(self, elem: etree._Element) -> str | None:
        return elem.get("action")

    def dataset_attributes(self, elem: etree._Element) -> dict[str, str]:
        self.dataset = elem
        return {}  # generic datasets carry them in a gen:Attributes child, read by `begin`

    def dataset_began(self, structure: StructureRef | None) -> None:
        at_obs = structure.dimension_at_observation if structure else None
        self.at_observation = at_obs or DEFAULT_DIMENSION_AT_OBSERVATION
        self.room = min(self.chunk_size, HOLD_LIMIT)

    def begin(self) -> None:
        """The dataset's attributes (gen:Attributes before its content) go on its DatasetStart."""
        if self.pending is not None and self.dataset is not None:
            for child in self.dataset:
                if child.tag == ATTRIBUTES:
                    values = self.values(child).items()
                    self.pending.attributes.update({k: v for k, v in values if v is not None})
        super().begin()

    def series_start(self, elem: etree._Element) -> None:
        self.begin()
        self.series_elem = elem
        self.series = {}
        self.series_rows = 0

    def series_head(self) -> None:
        """Read the current series' key and attributes (they come before its observations)."""
        if self.series_elem is not None:
            for child in self.series_elem:
                if child.tag in (SERIES_KEY, ATTRIBUTES):
                    self.series.update(self.values(child))
                elif child.tag == OBS:
                    break
                else:
                    self.sweep((child,))
            self.series_elem = None

    def series_end(self, elem: etree._Element) -> None:
        self.series_head()
        if not self.series_rows:
            self.builder.add(elem.sourceline, self.series)
            self.flush_if_full()
        self.series = {}
        self.release(elem)

    def group_start(self, elem: etree._Element) -> None:
        self.begin()

    def group_end(self, elem: etree._Element) -> None:
        self.sweep((elem,))
        key: dict[str, str | None] = {}
        attributes: dict[str, str | None] = {}
        for child in elem:
            if child.tag == GROUP_KEY:
                key.update(_values(child))
            elif child.tag == ATTRIBUTES:
                attributes.update(_values(child))
        self.out.append(GroupAttributes(self.index, key, attributes, line(elem)))  # type: ignore[arg-type]
        self.release(elem)

    def read_held(self) -> None:
        """Each held observation is read from its children; a batch whose rows name the same
        components goes in as columns."""
        held = self.held
        if self.pending is not None:
            self.begin()
        self.series_head()
        rows = list(map(self.observation, held))
        lines = [elem.sourceline for elem in held]
        layouts = list(map(tuple, rows))
        if layouts.count(layouts[0]) == len(layouts):
            values = zip(*map(dict.values, rows), strict=True)
            self.builder.add_columns(lines, self.series, dict(zip(layouts[0], values, strict=True)))
        else:
            for position, row in zip(lines, rows, strict=True):
                self.builder.add(position, self.series, row)
        self.flush_if_full()
        self.series_rows += len(held)
        last = held[-1]
        parent = last.getparent()
        if parent is not None:  # what is dropped besides observations must be known too
            self.sweep(e for e in parent[: parent.index(last)] if e.tag != OBS)
        drop_before(last)
        last.clear()
        held.clear()
        self.room = min(self.chunk_size - self.builder.rows, HOLD_LIMIT)

    def observation(self, elem: etree._Element) -> dict[str, str | None]:
        row: dict[str, str | None] = {}
        for child in elem:
            tag = child.tag
            if tag == OBS_DIMENSION:
                row[child.get("id") or self.at_observation] = child.get("value")
            elif tag == OBS_VALUE_TAG:
                value = child.get("value")
                row[OBS_VALUE] = None if value == MISSING else value
            elif tag in (ATTRIBUTES, OBS_KEY):
                row.update(self.values(child))
                continue
            else:  # known elsewhere (ignored, as before) or refused
                self.sweep((child,))
                continue
            if len(child):  # only known elements, anywhere
                self.sweep(child)
        return row

    def values(self, container: etree._Element) -> dict[str, str | None]:
        """`_values`, checking that what the container holds is known."""
        values: dict[str, str | None] = {}
        for value in container:
            if value.tag == VALUE:
                values[value.get("id", "")] = value.get("value")
                if len(value):
                    self.sweep(value)
            else:
                self.sweep((value,))
        return values
