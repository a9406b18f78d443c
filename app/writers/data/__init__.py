"""Data writers: one module per wire format, registered by media type.

A data writer turns a ``DataResponse`` into an iterator of byte chunks (about 64 kB each) that an
HTTP streaming response sends as they come: writers never build the whole message in memory, so
memory stays flat however many rows a query returns (STYLE.md items 4, 5 and 11).
"""

from collections.abc import Callable, Iterator

from app.formats.media import MediaType
from app.model.response import DataResponse

Writer = Callable[[DataResponse], Iterator[bytes]]

WRITERS: dict[MediaType, Writer] = {}

CHUNK_SIZE = 64 * 1024  # bytes a writer gathers before it yields


def register(*media_types: MediaType) -> Callable[[Writer], Writer]:
    """Decorator: make ``func`` the data writer for each of ``media_types``."""

    def decorate(func: Writer) -> Writer:
        for media_type in media_types:
            WRITERS[media_type] = func
        return func

    return decorate


def write(media_type: MediaType, response: DataResponse) -> Iterator[bytes]:
    """The data message for ``response`` in ``media_type``, as chunks; KeyError names the known
    types."""
    try:
        writer = WRITERS[media_type]
    except KeyError:
        known = ", ".join(sorted(WRITERS))
        raise KeyError(f"no data writer for {media_type}; expected one of {known}") from None
    return writer(response)


# Built-in writers register themselves on import (after `register` exists).
from app.writers.data import (  # noqa: E402, F401
    sdmx_csv,
    sdmx_json,
    sdmx_ml,
    sdmx_ml_generic,
)
