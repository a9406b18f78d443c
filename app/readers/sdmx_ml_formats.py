"""The SDMX-ML data readers: one `Reader` per format, each sniffing the root element's namespace.

| reader | media type | root element |
| --- | --- | --- |
| sdmx-ml-2.1-structurespecific | structurespecificdata+xml;version=2.1 | v2_1 message: StructureSpecificData |
| sdmx-ml-2.1-structurespecific-ts | structurespecifictimeseriesdata+xml;version=2.1 | ...StructureSpecificTimeSeriesData |
| sdmx-ml-2.1-generic | genericdata+xml;version=2.1 | v2_1 message: GenericData |
| sdmx-ml-2.1-generic-ts | generictimeseriesdata+xml;version=2.1 | ...GenericTimeSeriesData |
| sdmx-ml-3.0-structurespecific | data+xml;version=3.0.0 | v3_0 message: StructureSpecificData |

The time-series variants are the same readers: their content is a subset of the general form.
The readers are defined here and registered by `sdmx_ml`, so that tests can import them without
the registry. The parsing itself lives in `sdmx_ml_core` (stream, header, datasets), `sdmx_ml_ss` and
`sdmx_ml_generic`.
"""

import re
from collections.abc import Callable, Iterator
from typing import BinaryIO

from app.model.data import CHUNK_SIZE, Event
from app.readers.base import Reader
from app.readers.sdmx_ml_core import MES21, MES30, MLParser
from app.readers.sdmx_ml_generic import Generic21
from app.readers.sdmx_ml_ss import StructureSpecific21, StructureSpecific30

_ROOT_TAG = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?([A-Za-z_][\w.-]*)([^>]*)>")


def root_element(head: bytes) -> tuple[str, str] | None:
    """(namespace, local name) of the root element in the first bytes, or None."""
    for match in _ROOT_TAG.finditer(head):
        prefix, name, rest = match.groups()
        declaration = b"xmlns:" + prefix if prefix else b"xmlns"
        ns = re.search(re.escape(declaration) + rb"\s*=\s*[\"']([^\"']*)[\"']", rest)
        return (ns.group(1).decode() if ns else "", name.decode())
    return None


def _sniffer(namespace: str, *names: str) -> Callable[[bytes], bool]:
    def sniff(head: bytes) -> bool:
        return root_element(head) in {(namespace, name) for name in names}

    return sniff


def _reading(parser: type[MLParser]) -> Callable[..., Iterator[Event]]:
    def read(stream: BinaryIO, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Event]:
        return parser(chunk_size).run(stream)

    return read


SS21 = Reader(
    "sdmx-ml-2.1-structurespecific",
    ("application/vnd.sdmx.structurespecificdata+xml;version=2.1",),
    _sniffer(MES21, "StructureSpecificData"),
    _reading(StructureSpecific21),
)
SS21_TS = Reader(
    "sdmx-ml-2.1-structurespecific-ts",
    ("application/vnd.sdmx.structurespecifictimeseriesdata+xml;version=2.1",),
    _sniffer(MES21, "StructureSpecificTimeSeriesData"),
    _reading(StructureSpecific21),
)
GENERIC21 = Reader(
    "sdmx-ml-2.1-generic",
    ("application/vnd.sdmx.genericdata+xml;version=2.1",),
    _sniffer(MES21, "GenericData"),
    _reading(Generic21),
)
GENERIC21_TS = Reader(
    "sdmx-ml-2.1-generic-ts",
    ("application/vnd.sdmx.generictimeseriesdata+xml;version=2.1",),
    _sniffer(MES21, "GenericTimeSeriesData"),
    _reading(Generic21),
)
SS30 = Reader(
    "sdmx-ml-3.0-structurespecific",
    ("application/vnd.sdmx.data+xml;version=3.0.0",),
    _sniffer(MES30, "StructureSpecificData"),
    _reading(StructureSpecific30),
)

READERS = (SS21, SS21_TS, GENERIC21, GENERIC21_TS, SS30)
