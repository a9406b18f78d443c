"""Structure-specific SDMX-ML data (2.1 StructureSpecificData and ...TimeSeriesData, 3.0 data).

Components are XML attributes named by their ids: `<Series FREQ="M" ...>`, `<Obs TIME_PERIOD=..
OBS_VALUE=..>`. Series, flat (Obs directly in the DataSet) and cross-sectional messages read the
same way: a row is the series' values plus the observation's, whatever dimension sits on the Obs.

Decisions a reader without the DSD has to make:
- A `Group` element mixes its dimensions and attributes as XML attributes, and only the DSD can
  tell them apart; every value goes into `GroupAttributes.attributes` (key left empty) for
  validation, which has the DSD, to split.
- SDMX-ML 3.0 multi-valued components (`<Comp id="X"><Value>a</Value><Value>b</Value></Comp>`)
  are joined with `MULTI_VALUE_SEPARATOR`; localised values (`xml:lang`) keep the English one
  (or the first). `<Atts>` holds dataset-level attributes.
- `NaN` as an observation-level value is None; reference `Metadata` and `DataProvider` inside
  a dataset are skipped.
"""

from itertools import chain
from operator import attrgetter
from typing import Final

from lxml import etree

from app.model.data import GroupAttributes, MessageError, StructureRef
from app.readers.sdmx_ml_core import (
    ENDED,
    FOOTER21,
    HOLD_LIMIT,
    MES21,
    MES30,
    MISSING,
    SS21,
    SS30,
    START,
    XML_LANG,
    MLParser,
    line,
    local,
    without_missing,
)

MULTI_VALUE_SEPARATOR: Final = ";"
_keys, _values = etree._Element.keys, etree._Element.values
_sourceline = attrgetter("sourceline")


def _components(elem: etree._Element) -> dict[str, str | None]:
    """The component values of a Series/Group/Obs element: its XML attributes without namespaced
    ones (xsi:type), then its 3.0 `Comp` children."""
    values: dict[str, str | None] = {k: v for k, v in elem.attrib.items() if k[0] != "{"}
    for child in elem:
        if child.tag == "Comp":
            values[child.get("id", "")] = comp_value(child)
    return values


def comp_value(comp: etree._Element) -> str | None:
    texts = [(v.get(XML_LANG), v.text or "") for v in comp if v.tag == "Value"]
    if not texts:
        return comp.text.strip() if comp.text and comp.text.strip() else None
    localised = [text for lang, text in texts if lang is not None]
    if localised:
        return next((text for lang, text in texts if lang == "en"), localised[0])
    return MULTI_VALUE_SEPARATOR.join(text for _, text in texts)


class StructureSpecificParser(MLParser):
    mes = MES21
    ss = SS21
    # Unqualified DataSet attributes that are not data: the schemas qualify `action`, but writers
    # (ISTAT in 2.1, most in 3.0) often leave it unqualified.
    control_attributes: frozenset[str] = frozenset({"action"})

    def __init__(self, chunk_size: int) -> None:
        self.dataset_tags = (f"{{{self.mes}}}DataSet",)
        self.skipped_tags = (
            f"{{{self.mes}}}Header",
            f"{{{FOOTER21}}}Footer",
            "Metadata",
            "DataProvider",
        )
        self.event_tags = (  # observations are read as the children of their series or dataset
            *self.dataset_tags,
            "{*}DataSet",  # some writers put it in another namespace (see MLParser.unknown)
            *self.skipped_tags,
            "Series",
            "Group",
            "Atts",
            "Comp",
        )
        super().__init__(chunk_size)
        self.dataset: etree._Element | None = None
        self.series: dict[str, str | None] = {}
        self.series_rows = 0
        self.run_keys: list[str] = []
        self.run_plain = True
        self.run_rows: list[list[str]] = []
        self.run_lines: list[int] = []
        self.plain_keys: list[str] | None = None  # the last attribute names known to be plain
        self.on("Series", self.series_start, self.series_end)
        self.on("Obs", None, ENDED)
        self.on("Group", None, self.group_end)
        self.on("Atts", None, self.atts_end)
        self.on("Comp", None, self.comp_end)
        self.on("Value", None, None)

    def root(self, elem: etree._Element) -> None:
        if (
            elem.tag != f"{{{self.mes}}}StructureSpecificData"
            and elem.tag != f"{{{self.mes}}}StructureSpecificTimeSeriesData"
        ):
            raise MessageError(
                f"Root element <{local(elem.tag)}> ({elem.tag}) is not structure-specific data; "
                f"expected {{{self.mes}}}StructureSpecificData",
                line(elem),
            )

    def structure_ref(self, elem: etree._Element) -> str | None:
        return elem.get(f"{{{self.ss}}}structureRef")

    def action(self, elem: etree._Element) -> str | None:
        return elem.get(f"{{{self.ss}}}action") or elem.get("action")

    def dataset_attributes(self, elem: etree._Element) -> dict[str, str]:
        self.dataset = self.container = elem
        skip = self.control_attributes
        return {k: v for k, v in elem.attrib.items() if k[0] != "{" and k not in skip}

    def dataset_began(self, structure: StructureRef | None) -> None:
        self.room = min(self.chunk_size, HOLD_LIMIT)

    def series_start(self, elem: etree._Element) -> None:
        self.begin()
        self.end_run()
        self.series = {k: v for k, v in elem.attrib.items() if k[0] != "{"}
        self.series_rows = 0
        self.container = elem

    def series_end(self, elem: etree._Element) -> None:
        self.end_run()
        if not self.series_rows:  # a series without observations is one row (delete, attributes)
            self.builder.add(elem.sourceline, self.series)
            self.flush_if_full()
        self.series = {}
        self.container = self.dataset
        self.release(elem)

    # The hot path. Observations that are all plain (the same attribute names, no NaN, no Comp
    # children, no xsi:type) are one run: their value lists are transposed into columns at once.
    # Otherwise each goes through `obs`, which makes runs of the plain ones and rows of the rest.
    def read_kids(self, kids: list[etree._Element]) -> None:
        observations = [kid for kid in kids if kid.tag == "Obs"]
        if len(observations) != len(kids):  # series and groups read, Comp, or unknown ones
            known = self.handlers[START]
            self.sweep(kid for kid in kids if kid.tag not in known)
        if observations and self.pending is not None:
            self.begin()
        begin = 0
        while begin < len(observations):
            end = begin + self.room
            self.read_observations(observations[begin:end])
            self.room = min(self.chunk_size - self.builder.rows, HOLD_LIMIT)
            begin = end

    def read_observations(self, observations: list[etree._Element]) -> None:
        keys = list(map(_keys, observations))
        values = list(map(_values, observations))
        first = keys[0]
        if first != self.plain_keys:  # a new list of names: none namespaced (xsi:type)?
            self.plain_keys = first if not any(k[0] == "{" for k in first) else None
        if (
            first == self.plain_keys
            and keys.count(first) == len(keys)
            and MISSING not in chain.from_iterable(values)
            and not any(map(len, observations))
        ):
            self.end_run()
            self.builder.add_run(list(map(_sourceline, observations)), self.series, first, values)
            self.flush_if_full()
        else:
            for elem, elem_keys, elem_values in zip(observations, keys, values, strict=True):
                self.obs(elem, elem_keys, elem_values)
            self.end_run()
        self.series_rows += len(observations)

    def obs(self, elem: etree._Element, keys: list[str], values: list[str]) -> None:
        if keys != self.run_keys:
            self.end_run()
            self.run_keys = keys
            self.run_plain = not any(k[0] == "{" for k in keys)
        if self.run_plain and MISSING not in values and not len(elem):
            self.run_rows.append(values)
            self.run_lines.append(elem.sourceline)
        else:
            self.end_run()
            self.sweep(elem)  # its children: Comp and Value only, as with every event
            self.builder.add(elem.sourceline, self.series, without_missing(_components(elem)))
            self.flush_if_full()

    def end_run(self) -> None:
        """Move the current run into the builder and take a full chunk."""
        if self.run_rows:
            self.builder.add_run(self.run_lines, self.series, self.run_keys, self.run_rows)
            self.run_rows, self.run_lines = [], []
            self.flush_if_full()

    def group_end(self, elem: etree._Element) -> None:
        self.begin()
        # `type` names the group (as xsi:type does); it is not a component.
        values = {k: v for k, v in _components(elem).items() if v is not None and k != "type"}
        self.out.append(GroupAttributes(self.index, {}, values, line(elem)))
        self.release(elem)

    def atts_end(self, elem: etree._Element) -> None:
        if self.pending is not None:
            self.pending.attributes.update(
                {k: v for k, v in _components(elem).items() if v is not None}
            )
        self.release(elem)

    def comp_end(self, elem: etree._Element) -> None:
        """Series-level `Comp` values must be known before the series' observations; the other
        parents (Obs, Group, Atts) read their Comp children when they end."""
        self.sweep(elem)  # Value elements have no events
        if elem.getparent().tag == "Series":
            self.series[elem.get("id", "")] = comp_value(elem)


class StructureSpecific21(StructureSpecificParser):
    format_name = "sdmx-ml-2.1-structurespecific"


class StructureSpecific30(StructureSpecificParser):
    format_name = "sdmx-ml-3.0-structurespecific"
    mes = MES30
    ss = SS30
