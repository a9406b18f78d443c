"""Generic SDMX-ML 2.1 data (GenericData and GenericTimeSeriesData).

Components are `gen:Value id=.. value=..` elements inside `gen:SeriesKey`, `gen:ObsKey`,
`gen:GroupKey` and `gen:Attributes`; the observation's own dimension is `gen:ObsDimension`, whose
id is the header's `dimensionAtObservation` for the dataset's structure (TIME_PERIOD by default;
an `id` on the element wins). Key and attribute containers are read whole at their end event (they
are small); an observation is read at its end from its few children. Unlike structure-specific
data, generic groups say which values are key (`GroupKey`) and which are attributes.
"""

from lxml import etree

from app.model.data import OBS_VALUE, GroupAttributes, MessageError, StructureRef
from app.readers.sdmx_ml_core import (
    DEFAULT_DIMENSION_AT_OBSERVATION,
    FOOTER21,
    GEN21,
    MES21,
    MISSING,
    MLParser,
    line,
    local,
    release,
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

    def __init__(self, chunk_size: int) -> None:
        super().__init__(chunk_size)
        self.at_observation = DEFAULT_DIMENSION_AT_OBSERVATION
        self.series: dict[str, str | None] = {}
        self.series_rows = 0
        self.group: tuple[dict[str, str | None], dict[str, str | None]] = ({}, {})
        self.on(SERIES, self.series_start, self.series_end)
        self.on(SERIES_KEY, None, self.series_key_end)
        self.on(GROUP, self.group_start, self.group_end)
        self.on(GROUP_KEY, None, self.group_key_end)
        self.on(ATTRIBUTES, None, self.attributes_end)
        self.on(OBS, None, self.obs_end)
        for tag in (VALUE, OBS_KEY, OBS_DIMENSION, OBS_VALUE_TAG):
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
        return {}  # generic datasets carry them in a gen:Attributes child

    def dataset_began(self, structure: StructureRef | None) -> None:
        at_obs = structure.dimension_at_observation if structure else None
        self.at_observation = at_obs or DEFAULT_DIMENSION_AT_OBSERVATION

    def series_start(self, elem: etree._Element) -> None:
        self.begin()
        self.series = {}
        self.series_rows = 0

    def series_key_end(self, elem: etree._Element) -> None:
        self.series.update(_values(elem))

    def series_end(self, elem: etree._Element) -> None:
        if not self.series_rows:
            self.builder.add(elem.sourceline, self.series)
            self.flush_if_full()
        self.series = {}
        release(elem)

    def group_start(self, elem: etree._Element) -> None:
        self.begin()
        self.group = ({}, {})

    def group_key_end(self, elem: etree._Element) -> None:
        self.group[0].update(_values(elem))

    def group_end(self, elem: etree._Element) -> None:
        key, attributes = self.group
        self.out.append(GroupAttributes(self.index, key, attributes, line(elem)))  # type: ignore[arg-type]
        release(elem)

    def attributes_end(self, elem: etree._Element) -> None:
        """Attributes of a Series, Group or DataSet (those of an Obs are read with the Obs)."""
        parent = elem.getparent().tag
        if parent == SERIES:
            self.series.update(_values(elem))
        elif parent == GROUP:
            self.group[1].update(_values(elem))
        elif parent != OBS and self.pending is not None:
            self.pending.attributes.update(
                {k: v for k, v in _values(elem).items() if v is not None}
            )

    def obs_end(self, elem: etree._Element) -> None:
        if self.pending is not None:
            self.begin()
        row: dict[str, str | None] = {}
        for child in elem:
            tag = child.tag
            if tag == OBS_DIMENSION:
                row[child.get("id") or self.at_observation] = child.get("value")
            elif tag == OBS_VALUE_TAG:
                value = child.get("value")
                row[OBS_VALUE] = None if value == MISSING else value
            elif tag in (ATTRIBUTES, OBS_KEY):
                row.update(_values(child))
        self.builder.add(elem.sourceline, self.series, row)
        self.series_rows += 1
        if self.builder.full:
            self.out.append(self.builder.take())  # type: ignore[arg-type]
        release(elem)
