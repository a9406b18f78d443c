"""The validator: a reader's events against one compiled dataflow and the principal's scope.

Call `dataset()` at each DatasetStart, `chunk()` for each Chunk, and `finish()` after the last event.
`chunk()` returns the chunk itself (not a copy) with PERIOD_START and PERIOD_END added.

Decisions:
- Only row-local checks are made here; duplicates and series-attribute consistency across the whole
  dataset need the series each row belongs to, and are checked where rows are staged
  (`app.storage.versions.DatasetWriter`).
- DELETE rows may leave out any dimension (bulk delete) and their measure and attribute values only
  flag what to delete, so those values are not checked against codes or text types; dimension
  values they give are (a code that cannot exist, or a key outside the provider's scope, is wrong).
- A non-DELETE row without a period is a series (an attribute-only update); it is a
  missing-dimension only if it carries an observation value or observation-level attribute.
- Dataset-level attributes may come on DatasetStart (SDMX-ML, SDMX-JSON) or per row (SDMX-CSV, whose
  reader cannot tell the levels apart). All values given for one dataset must agree; the first one
  seen is the dataset's value. Whether a mandatory one was given is known only at the end of the
  dataset, hence `finish()` (also called by the next `dataset()`).
- A column that is not a component is reported once per dataset. Names in `ignore` (the caller's
  SDMX-CSV control columns: STRUCTURE, STRUCTURE_ID, ACTION...) and names starting with "__"
  (columns validation adds) are not components and are skipped.
- A value outside the codelist is `unknown-code`, not also `outside-scope`: scope findings (HTTP 403)
  are only for codes that exist but are not the provider's.
"""

from dataclasses import dataclass, field

from app.model.actions import Operation
from app.model.data import PERIOD_END, PERIOD_START, Chunk, DatasetStart
from app.model.dsd import CompiledFlow, Component, Level
from app.validation import checks
from app.validation.findings import Findings, Location, expected_list
from app.validation.values import checked, invalid_values


@dataclass
class _Dataset:
    index: int
    operation: Operation
    position: str = ""
    values: dict[str, str] = field(default_factory=dict)  # dataset-level attribute -> value
    reported: set[str] = field(default_factory=set)  # unknown columns already reported


class Validator:
    def __init__(
        self,
        flow: CompiledFlow,
        scope: dict[str, frozenset[str]] | None,
        findings: Findings,
        *,
        ignore: frozenset[str] = frozenset(),
    ) -> None:
        self.flow = flow
        self.scope = (  # None: unrestricted; dimensions the flow does not have are left out
            None
            if scope is None
            else {d: frozenset(v) for d, v in scope.items() if d in flow.dimensions}
        )
        self.findings = findings
        self.ignore = ignore
        components = flow.components.values()
        self._dimensions = [flow.components[d] for d in flow.dimensions]
        self._coded = [c for c in components if c.role in ("measure", "attribute") and c.codes]
        self._typed = [c for c in components if c.codes is None and checked(c.text_type)]
        # values no other check confines to known text: free text; on DELETE rows (which only
        # flag what to delete) every value but a coded dimension's and the period
        self._free = [
            c
            for c in components
            if c.role != "time" and c.codes is None and not checked(c.text_type)
        ]
        self._unchecked_on_delete = [
            c for c in components if c.role != "time" and (c.role != "dimension" or not c.codes)
        ]
        self._expected = {c.id: expected_list(c.codes) for c in components if c.codes is not None}
        self._dataset_level = flow.attributes_at(Level.DATASET)
        self._mandatory = [
            c
            for c in components
            if c.mandatory and c.role == "attribute" and c.level != Level.DATASET
        ]
        obs_attributes = flow.attributes_at(Level.OBSERVATION)
        self._observation_values = [flow.measure, *obs_attributes]
        self._current: _Dataset | None = None

    # -- dataset level ------------------------------------------------------------------------

    def dataset(self, start: DatasetStart, operation: Operation) -> None:
        """Check the dataset-level attributes a DatasetStart gives."""
        self.finish()
        self._current = _Dataset(start.index, operation, start.position)
        for name, value in start.attributes.items():
            location = Location(start.position or None, None, name, value)
            component = self.flow.components.get(name)
            if component is None:
                self._unknown_component(location)
            elif component.role != "attribute" or component.level != Level.DATASET:
                level = component.level.value if component.role == "attribute" else component.role
                reason = (
                    f"given for the whole dataset, but it is attached at {level} level in "
                    f"{self.flow.ref}; expected on each series or observation"
                )
                self.findings.add("attribute-level", location, reason=reason)
            else:
                self._dataset_value(component, value, location)

    def _dataset_value(self, component: Component, value: str, location: Location) -> None:
        dataset = self._current
        assert dataset is not None
        if dataset.operation == Operation.DELETE:
            return
        if component.codes is not None and value not in component.codes:
            self.findings.add(
                "unknown-code", location, flow=self.flow.ref, expected=self._expected[component.id]
            )
        rule = checked(component.text_type)
        if component.codes is None and rule and invalid_values({value}, rule):
            self.findings.add(
                "invalid-value", location, text_type=component.text_type, expected=rule.expected
            )
        character = checks.bad_character(value) if component.codes is None else None
        if character is not None:
            self.findings.add("invalid-character", location, character=character)
        dataset.values.setdefault(component.id, value)

    def finish(self) -> dict[str, str]:
        """End of the current dataset: report mandatory dataset-level attributes never given, and
        return the dataset-level attribute values the dataset gave (for storage)."""
        dataset, self._current = self._current, None
        if dataset is None or dataset.operation == Operation.DELETE:
            return {}
        for name in self._dataset_level:
            if self.flow.components[name].mandatory and name not in dataset.values:
                location = Location(dataset.position or None, None, name, None)
                self.findings.add(
                    "missing-attribute", location, flow=self.flow.ref, level="dataset"
                )
        return dataset.values

    # -- rows ---------------------------------------------------------------------------------

    def chunk(self, chunk: Chunk, operation: Operation) -> Chunk:
        """Check every row of `chunk`; add PERIOD_START and PERIOD_END (None where no valid period)."""
        if self._current is None or self._current.index != chunk.dataset:
            self._current = _Dataset(chunk.dataset, operation)
        rows = checks.Rows(chunk, operation, self.flow, self.findings)
        if len(chunk) == 0:
            chunk.columns[PERIOD_START], chunk.columns[PERIOD_END] = [], []
            return chunk
        self._unknown_columns(rows)
        scope = self.scope or {}
        for dimension in self._dimensions:
            expected = self._expected.get(dimension.id, "")
            checks.dimension(rows, dimension, scope.get(dimension.id), expected)
        for component in self._coded:
            checks.coded(rows, component, self._expected[component.id])
        for component in self._typed:
            checks.typed(rows, component)
        for component in self._unchecked_on_delete if rows.deleting else self._free:
            checks.characters(rows, component)
        period = None
        if self.flow.time_dimension is not None:
            starts, ends = checks.time_period(rows, self._observation_values)
            period = rows.column(self.flow.time_dimension)
        else:
            starts = ends = [None] * len(chunk)
        for attribute in self._mandatory:
            observation = attribute.level == Level.OBSERVATION
            checks.mandatory(rows, attribute, period if observation else None)
        for name in self._dataset_level:
            self._dataset_column(rows, name)
        chunk.columns[PERIOD_START] = starts
        chunk.columns[PERIOD_END] = ends
        return chunk

    def _unknown_components(self, rows: checks.Rows) -> list[str]:
        return [
            name
            for name in rows.chunk.columns
            if name not in self.flow.components
            and name not in self.ignore
            and not name.startswith("__")
        ]

    def _unknown_columns(self, rows: checks.Rows) -> None:
        dataset = self._current
        assert dataset is not None
        for name in self._unknown_components(rows):
            if name not in dataset.reported:
                dataset.reported.add(name)
                values = rows.chunk.columns[name]
                first = next((i for i, v in enumerate(values) if v not in checks.ABSENT), 0)
                location = Location(
                    rows.chunk.positions[first], rows.key(first), name, values[first]
                )
                self._unknown_component(location)

    def _unknown_component(self, location: Location) -> None:
        if location.component in self.ignore:
            return
        expected = ", ".join(self.flow.components)
        self.findings.add("unknown-component", location, flow=self.flow.ref, expected=expected)

    def _dataset_column(self, rows: checks.Rows, name: str) -> None:
        """attribute-level: per-row values of a dataset-level attribute must all agree."""
        values = rows.chunk.columns.get(name)
        dataset = self._current
        if values is None or rows.deleting or dataset is None:
            return
        distinct = set(values).difference(checks.ABSENT)
        if not distinct:
            return
        value = dataset.values.setdefault(name, next(v for v in values if v not in checks.ABSENT))
        if distinct == {value}:
            return
        reason = (
            f"a dataset-level attribute has one value per dataset; expected {value!r} as before"
        )
        for i in checks.rows_with(values, distinct - {value}):
            rows.report("attribute-level", i, name, values[i], reason=reason)
