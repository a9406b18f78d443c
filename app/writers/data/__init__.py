"""Data writers: one module per wire format, registered by media type.

A data writer turns a ``DataResponse`` into an iterator of byte chunks (about 64 kB each) that an
HTTP streaming response sends as they come: writers never build the whole message in memory, so
memory stays flat however many rows a query returns (STYLE.md items 4, 5 and 11).
"""

from collections.abc import Callable, Iterator, Sequence

from app.errors import NotAcceptable
from app.formats.media import MediaType
from app.model.response import DataResponse

Writer = Callable[[DataResponse], Iterator[bytes]]
ManyWriter = Callable[[Sequence[DataResponse]], Iterator[bytes]]

WRITERS: dict[MediaType, Writer] = {}
# formats whose one message can hold datasets of several structures (several dataflows)
MANY_WRITERS: dict[MediaType, ManyWriter] = {}

CHUNK_SIZE = 64 * 1024  # bytes a writer gathers before it yields


def register(*media_types: MediaType) -> Callable[[Writer], Writer]:
    """Decorator: make ``func`` the data writer for each of ``media_types``."""

    def decorate(func: Writer) -> Writer:
        for media_type in media_types:
            WRITERS[media_type] = func
        return func

    return decorate


def register_many(media_type: MediaType) -> Callable[[ManyWriter], ManyWriter]:
    """Decorator: ``func`` writes several responses (dataflows) as one ``media_type`` message."""

    def decorate(func: ManyWriter) -> ManyWriter:
        MANY_WRITERS[media_type] = func
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


def write_many(media_type: MediaType, responses: Sequence[DataResponse]) -> Iterator[bytes]:
    """One data message for ``responses`` (one per dataflow); NotAcceptable when there are
    several and the format holds one structure only."""
    if len(responses) == 1:
        return write(media_type, responses[0])
    if media_type not in MANY_WRITERS:
        names = ", ".join(r.flow.ref for r in responses)
        raise NotAcceptable(
            f"The query matches several dataflows ({names}); {media_type} holds one: ask for "
            + " or ".join(sorted(MANY_WRITERS))
            + ", or name one dataflow"
        )
    return MANY_WRITERS[media_type](responses)


# Built-in writers register themselves on import (after `register` exists).
from app.writers.data import (  # noqa: E402, F401
    sdmx_csv,
    sdmx_json,
    sdmx_ml,
    sdmx_ml_generic,
)
