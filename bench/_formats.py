"""Every data format DSM accepts, written for the same N observations as bench/_generate.py.

`FORMATS` maps a short name (the `--formats` option) to its label, file suffix and writer. Each
writer streams to disk and is deterministic; all carry the same series keys, periods, values and
attributes (`observations`), so a DSM import of any of them must insert exactly N observations.
SDMX-JSON writes the structure section before `dataSets` (DSM reads either order) and indexes
into it: a series key is its codes' positions in the layout's sorted code lists.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from _generate import FIRST_YEAR, Layout, observations, write_csv, write_ml

V21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1"
V30 = "http://www.sdmx.org/resources/sdmxml/schemas/v3_0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
Writer = Callable[[Layout, int, int, Path], None]


def _open(path: Path):  # type: ignore[no-untyped-def]
    return open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)


def _header(layout: Layout, structure: str) -> str:
    return (
        "<mes:Header><mes:ID>BENCH</mes:ID><mes:Test>false</mes:Test>"
        '<mes:Prepared>2024-01-01T00:00:00</mes:Prepared><mes:Sender id="BENCH"/>'
        f'<mes:Structure structureID="STR1" dimensionAtObservation="{layout.time}">'
        f"{structure}</mes:Structure></mes:Header>\n"
    )


def _ref21(layout: Layout) -> str:
    return (
        f'<com:StructureUsage><Ref agencyID="{layout.agency}" id="{layout.id}" '
        f'version="{layout.version}"/></com:StructureUsage>'
    )


def write_csv10(layout: Layout, n: int, years: int, path: Path) -> None:
    """SDMX-CSV 1.0: a DATAFLOW column, no action."""
    obs_tail = "".join(f",{v}" for _, v in layout.obs_attributes)
    series_tail = "".join(f",{v}" for _, v in layout.series_attributes)
    with _open(path) as out:
        out.write(",".join(("DATAFLOW", *layout.columns)) + "\n")
        for key, obs in observations(layout, n, years):
            prefix = f"{layout.ref}," + ",".join(key) + ","
            out.writelines(
                f"{prefix}{period},{value}{obs_tail}{series_tail}\n" for period, value in obs
            )


def _ss(root: str, mes: str, ss: str, usage: str, action: str) -> Writer:
    """Structure-specific SDMX-ML (2.1 time series, 3.0): Series elements holding Obs."""

    def write(layout: Layout, n: int, years: int, path: Path) -> None:
        urn = f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={layout.ref}"
        obs_tail = "".join(f' {a}="{v}"' for a, v in layout.obs_attributes)
        series_tail = "".join(f' {a}="{v}"' for a, v in layout.series_attributes)
        with _open(path) as out:
            out.write(
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<mes:{root} xmlns:mes="{mes}/message" xmlns:ss="{ss}" '
                f'xmlns:com="{mes}/common" xmlns:xsi="{XSI}" '
                f'xmlns:ns1="{urn}:ObsLevelDim:{layout.time}">\n'
                + _header(layout, usage.format(layout=layout, urn=urn))
                + f'<mes:DataSet ss:structureRef="STR1" {action} '
                'xsi:type="ns1:DataSetType">\n'
            )
            for key, obs in observations(layout, n, years):
                attrs = "".join(f' {d}="{c}"' for d, c in zip(layout.dimensions, key, strict=True))
                out.write(f"<Series{attrs}{series_tail}>\n")
                out.writelines(
                    f'<Obs {layout.time}="{period}" {layout.measure}="{value}"{obs_tail}/>\n'
                    for period, value in obs
                )
                out.write("</Series>\n")
            out.write(f"</mes:DataSet>\n</mes:{root}>\n")

    return write


def _generic(root: str) -> Writer:
    """Generic SDMX-ML 2.1 (GenericData or GenericTimeSeriesData)."""

    def write(layout: Layout, n: int, years: int, path: Path) -> None:
        def values(pairs) -> str:  # type: ignore[no-untyped-def]
            return "".join(f'<gen:Value id="{i}" value="{v}"/>' for i, v in pairs)

        obs_attrs = f"<gen:Attributes>{values(layout.obs_attributes)}</gen:Attributes>"
        series_attrs = f"<gen:Attributes>{values(layout.series_attributes)}</gen:Attributes>"
        if not layout.obs_attributes:
            obs_attrs = ""
        with _open(path) as out:
            out.write(
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<mes:{root} xmlns:mes="{V21}/message" xmlns:gen="{V21}/data/generic" '
                f'xmlns:com="{V21}/common">\n'
                + _header(layout, _ref21(layout))
                + '<mes:DataSet structureRef="STR1" action="Information">\n'
            )
            for key, obs in observations(layout, n, years):
                out.write(
                    f"<gen:Series><gen:SeriesKey>{values(zip(layout.dimensions, key, strict=True))}"
                    f"</gen:SeriesKey>{series_attrs}\n"
                )
                out.writelines(
                    f'<gen:Obs><gen:ObsDimension value="{period}"/>'
                    f'<gen:ObsValue value="{value}"/>{obs_attrs}</gen:Obs>\n'
                    for period, value in obs
                )
                out.write("</gen:Series>\n")
            out.write(f"</mes:DataSet>\n</mes:{root}>\n")

    return write


def _json_parts(layout: Layout, years: int) -> tuple[dict, dict]:
    """(dimensions, attributes) of an SDMX-JSON structure section: all series dimensions at
    series level, the period at observation level, each attribute with its one value."""
    dims = {
        "dataSet": [],
        "series": [
            {"id": d, "name": d, "values": [{"id": c, "name": c} for c in codes]}
            for d, codes in zip(layout.dimensions, layout.codes, strict=True)
        ],
        "observation": [
            {
                "id": layout.time,
                "name": layout.time,
                "values": [
                    {"id": str(p), "name": str(p)} for p in range(FIRST_YEAR, FIRST_YEAR + years)
                ],
            }
        ],
    }
    attrs = {
        "dataSet": [],
        "series": [
            {"id": a, "name": a, "values": [{"id": v, "name": v}]}
            for a, v in layout.series_attributes
        ],
        "observation": [
            {"id": a, "name": a, "values": [{"id": v, "name": v}]} for a, v in layout.obs_attributes
        ],
    }
    return dims, attrs


def _json_series(layout: Layout, n: int, years: int, out) -> None:  # type: ignore[no-untyped-def]
    index = [{c: i for i, c in enumerate(codes)} for codes in layout.codes]
    series_attrs = json.dumps([0] * len(layout.series_attributes))
    obs_attrs = "".join(",0" for _ in layout.obs_attributes)
    out.write('"series":{')
    for s, (key, obs) in enumerate(observations(layout, n, years)):
        dims = ":".join(str(index[d][c]) for d, c in enumerate(key))
        body = ",".join(
            f'"{int(period) - FIRST_YEAR}":[{value}{obs_attrs}]' for period, value in obs
        )
        sep = "," if s else ""
        out.write(f'{sep}\n"{dims}":{{"attributes":{series_attrs},"observations":{{{body}}}}}')
    out.write("}")


def write_json10(layout: Layout, n: int, years: int, path: Path) -> None:
    """SDMX-JSON data 1.0 (SDMX 2.1): header, structure, then dataSets with series."""
    dims, attrs = _json_parts(layout, years)
    href = f"https://example.org/rest/dataflow/{layout.agency}/{layout.id}/{layout.version}"
    structure = {
        "links": [{"href": href, "rel": "dataflow"}],
        "dimensions": dims,
        "attributes": attrs,
    }
    header = {"id": "BENCH", "prepared": "2024-01-01T00:00:00Z", "sender": {"id": "BENCH"}}
    with _open(path) as out:
        out.write(f'{{"header":{json.dumps(header)},\n"structure":{json.dumps(structure)},\n')
        out.write('"dataSets":[{"action":"Information",')
        _json_series(layout, n, years, out)
        out.write("}]}\n")


def write_json20(layout: Layout, n: int, years: int, path: Path) -> None:
    """SDMX-JSON data 2.0 (SDMX 3.0): meta, data.structures, then data.dataSets with series."""
    dims, attrs = _json_parts(layout, years)
    urn = f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow={layout.ref}"
    structure = {
        "links": [{"rel": "dataflow", "urn": urn}],
        "dimensions": dims,
        "measures": {"observation": [{"id": layout.measure}]},
        "attributes": {**attrs, "dimensionGroup": []},
    }
    meta = {"id": "BENCH", "prepared": "2024-01-01T00:00:00Z", "sender": {"id": "BENCH"}}
    with _open(path) as out:
        out.write(f'{{"meta":{json.dumps(meta)},\n"data":{{"structures":[{json.dumps(structure)}],')
        out.write('\n"dataSets":[{"structure":0,"action":"Information",')
        _json_series(layout, n, years, out)
        out.write("}]}}\n")


@dataclass(frozen=True)
class Format:
    label: str
    suffix: str
    write: Writer


_TS = 'ss:dataScope="DataStructure" ss:action="Information"'
FORMATS: dict[str, Format] = {
    "csv10": Format("SDMX-CSV 1.0", "csv", write_csv10),
    "csv": Format("SDMX-CSV 2.0", "csv", write_csv),
    "xml": Format("SDMX-ML 2.1 StructureSpecificData", "xml", write_ml),
    "ss21ts": Format(
        "SDMX-ML 2.1 StructureSpecificTimeSeriesData",
        "xml",
        _ss(
            "StructureSpecificTimeSeriesData",
            V21,
            f"{V21}/data/structurespecific",
            '<com:StructureUsage><Ref agencyID="{layout.agency}" id="{layout.id}" '
            'version="{layout.version}"/></com:StructureUsage>',
            _TS,
        ),
    ),
    "generic21": Format("SDMX-ML 2.1 GenericData", "xml", _generic("GenericData")),
    "generic21ts": Format(
        "SDMX-ML 2.1 GenericTimeSeriesData", "xml", _generic("GenericTimeSeriesData")
    ),
    "ss30": Format(
        "SDMX-ML 3.0 StructureSpecificData",
        "xml",
        _ss(
            "StructureSpecificData",
            V30,
            f"{V30}/data/structurespecific",
            "<com:StructureUsage>{urn}</com:StructureUsage>",
            'action="Information"',
        ),
    ),
    "json10": Format("SDMX-JSON data 1.0", "json", write_json10),
    "json20": Format("SDMX-JSON data 2.0", "json", write_json20),
}
DEFAULT = ("csv", "xml")
