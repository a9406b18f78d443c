"""Deterministic data messages for one of our dataflows, written streaming to files.

The same N observations go into SDMX-CSV 2.0 and SDMX-ML 2.1 structure-specific: many series (all
dimensions but FREQ enumerated mixed-radix over the flow's allowed codes) times `years` annual
periods, an integer value, one observation-level and two series-level coded attributes.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FIRST_YEAR = 2000
SERIES_ATTRIBUTES = ("UNIT_MEASURE", "UNIT_MULT")
OBS_ATTRIBUTES = ("OBS_STATUS",)
ACTION_CSV, ACTION_ML = "I", "Information"


@dataclass(frozen=True)
class Layout:
    """What a generated message holds: the flow, its dimensions and their codes, the attributes."""

    agency: str
    id: str
    version: str
    dimensions: tuple[str, ...]  # series dimensions, FREQ first
    codes: tuple[tuple[str, ...], ...]  # sorted allowed codes, one tuple per dimension
    time: str
    measure: str
    series_attributes: tuple[tuple[str, str], ...]  # (id, value)
    obs_attributes: tuple[tuple[str, str], ...]

    @property
    def ref(self) -> str:
        return f"{self.agency}:{self.id}({self.version})"

    @property
    def columns(self) -> tuple[str, ...]:
        """The data columns in the order ceilings store them (CSV order without the first three)."""
        return (
            *self.dimensions,
            self.time,
            self.measure,
            *(a for a, _ in self.obs_attributes),
            *(a for a, _ in self.series_attributes),
        )


def layout_for(flow) -> Layout:  # type: ignore[no-untyped-def]
    """A Layout from a CompiledFlow (app.model.dsd), picking the first allowed code of each
    attribute we fill ("A" for FREQ, since the periods are years)."""

    def codes(component: str) -> tuple[str, ...]:
        found = flow.components[component].codes
        return tuple(sorted(found)) if found else ()

    dims = tuple(flow.dimensions)
    dim_codes = tuple(("A",) if d == "FREQ" else codes(d) for d in dims)
    pick = [a for a in SERIES_ATTRIBUTES if a in flow.components]
    obs = [a for a in OBS_ATTRIBUTES if a in flow.components]
    return Layout(
        flow.agency,
        flow.id,
        flow.version,
        dims,
        dim_codes,
        flow.time_dimension,
        flow.measure,
        tuple((a, codes(a)[0]) for a in pick),
        tuple((a, codes(a)[0]) for a in obs),
    )


def series_keys(layout: Layout, count: int) -> Iterator[tuple[str, ...]]:
    """`count` distinct series keys: index i written mixed-radix over the code lists (the last
    dimension varies fastest)."""
    radices = [len(c) for c in layout.codes]
    for i in range(count):
        key, rest = [], i
        for codes, radix in zip(reversed(layout.codes), reversed(radices), strict=True):
            rest, digit = divmod(rest, radix)
            key.append(codes[digit])
        if rest:
            raise ValueError(f"{count} series exceed the flow's key space")
        yield tuple(reversed(key))


def observations(
    layout: Layout, n: int, years: int
) -> Iterator[tuple[tuple[str, ...], list[tuple[str, str]]]]:
    """(series key, [(period, value), ...]) for exactly n observations."""
    series = -(-n // years)
    left = n
    for s, key in enumerate(series_keys(layout, series)):
        count = min(years, left)
        left -= count
        yield (
            key,
            [
                (str(FIRST_YEAR + y), str((s * years + y) * 2654435761 % 100003))
                for y in range(count)
            ],
        )


def write_csv(layout: Layout, n: int, years: int, path: Path) -> None:
    obs_tail = "".join(f",{v}" for _, v in layout.obs_attributes)
    series_tail = "".join(f",{v}" for _, v in layout.series_attributes)
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as out:
        out.write(",".join(("STRUCTURE", "STRUCTURE_ID", "ACTION", *layout.columns)) + "\n")
        head = f"dataflow,{layout.ref},{ACTION_CSV},"
        for key, obs in observations(layout, n, years):
            prefix = head + ",".join(key) + ","
            out.writelines(
                f"{prefix}{period},{value}{obs_tail}{series_tail}\n" for period, value in obs
            )


def write_ml(layout: Layout, n: int, years: int, path: Path) -> None:
    usage = f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={layout.ref}"
    v21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1"
    obs_tail = "".join(f' {a}="{v}"' for a, v in layout.obs_attributes)
    series_tail = "".join(f' {a}="{v}"' for a, v in layout.series_attributes)
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<mes:StructureSpecificData xmlns:mes="{v21}/message" '
            f'xmlns:ss="{v21}/data/structurespecific" xmlns:com="{v21}/common" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:ns1="{usage}:ObsLevelDim:{layout.time}">\n'
            "<mes:Header><mes:ID>BENCH</mes:ID><mes:Test>false</mes:Test>"
            "<mes:Prepared>2024-01-01T00:00:00</mes:Prepared>"
            '<mes:Sender id="BENCH"/>'
            f'<mes:Structure structureID="STR1" dimensionAtObservation="{layout.time}">'
            f'<com:StructureUsage><Ref agencyID="{layout.agency}" id="{layout.id}" '
            f'version="{layout.version}"/></com:StructureUsage></mes:Structure></mes:Header>\n'
            f'<mes:DataSet ss:structureRef="STR1" ss:action="{ACTION_ML}" '
            'ss:dataScope="DataStructure" xsi:type="ns1:DataSetType">\n'
        )
        for key, obs in observations(layout, n, years):
            attrs = "".join(f' {d}="{c}"' for d, c in zip(layout.dimensions, key, strict=True))
            out.write(f"<Series{attrs}{series_tail}>\n")
            out.writelines(
                f'<Obs {layout.time}="{period}" {layout.measure}="{value}"{obs_tail}/>\n'
                for period, value in obs
            )
            out.write("</Series>\n")
        out.write("</mes:DataSet>\n</mes:StructureSpecificData>\n")
