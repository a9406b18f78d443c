"""What a structure query hands to a structure writer.

Structures are held as sdmx1 information-model objects (`sdmx.model`): sdmx1 is the reference
implementation of the SDMX information model in Python, keeps every language of every name, and reads
SDMX-ML 2.1 and 3.0. pysdmx's model keeps one language only, so DSM does not use it for structures.

A query selects artefacts and says, for each, how much of it to write (the REST `detail` parameter);
writers only follow these instructions, they never decide them.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sdmx.model.common import MaintainableArtefact


@dataclass(frozen=True)
class Shaped:
    """One artefact of a structure message, and how much of it to write.

    - ``stub``: identification, names, ``isExternalReference="true"`` and a ``structureURL``; no items,
      no components (REST ``allstubs`` / ``referencestubs``).
    - ``complete``: with ``stub``, also descriptions, annotations, validity and ``isFinal``
      (REST ``allcompletestubs`` / ``referencecompletestubs``).
    - ``items``: for an item scheme, write only these item ids, with ``isPartial="true"``
      (REST ``referencepartial``); ``None`` writes every item.
    """

    artefact: MaintainableArtefact
    stub: bool = False
    complete: bool = False
    items: frozenset[str] | None = None


@dataclass(frozen=True)
class Header:
    """The header of an outgoing message."""

    id: str
    prepared: datetime
    sender: str = "DSM"


@dataclass(frozen=True)
class StructureResponse:
    """Everything a structure writer needs: the header, the artefacts, and the label language."""

    header: Header
    artefacts: Sequence[Shaped] = field(default_factory=tuple)
    lang: str = "en"
    structure_url: str = (
        ""  # base URL for stub ``structureURL`` (e.g. "http://host/rest"); may be empty
    )
