"""The streaming core shared by the SDMX-ML data readers: safe iterparse, header, dataset lifecycle.

Order of this file: namespaces and tags; safe opening of the stream (DOCTYPE refused before libxml2
sees it); the header (parsed as a small tree at its end event); `MLParser`, the base class that owns
the `(tag, event) -> handler` table, the dataset lifecycle and the chunk builder. The format modules
(`sdmx_ml_ss`, `sdmx_ml_generic`) subclass it and add their handlers.

Why a table and not a ladder: every element the parser meets must be in the table, so an element it
does not know fails loudly with its line; subtrees DSM does not read (header details, footer,
reference metadata) are skipped on purpose, by swapping the table out until the subtree ends.

Observations are the hot path, read in batches in one of two ways, before any other handler
runs so that events keep their order:
- `HOLD` (generic): the loop only keeps each ended observation in `held`; `read_held` reads up to
  `room` of them at once.
- `container` (structure-specific): observations have no events at all (`event_tags` leaves them
  out); `read_children` reads the ended children of the open series or dataset after each block
  of input, before any other handler, and at the container's end. Without a filter (a prolog
  too long to find the root in the head) their end events are counted (`ENDED`) instead.

Memory stays flat: observations are removed from the tree once read (at most `HOLD_LIMIT` held, or
a `FEED_SIZE` block of a container's children), other elements at their end event with their
already-read preceding sibling. Elements without events are checked to be known when they are
read or dropped, and while still open after each block (`sweep`, `check_open`), so an unknown
element fails loudly with its line before it can grow.
"""

import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, Final

from lxml import etree

from app.model.data import (
    CHUNK_SIZE,
    LINE_POSITION,
    DatasetStart,
    Event,
    MessageError,
    MessageStart,
    StructureKind,
    StructureRef,
)
from app.readers.base import ChunkBuilder
from app.readers.references import URN

# --- namespaces and tags ------------------------------------------------------------------------

ROOT: Final = "http://www.sdmx.org/resources/sdmxml/schemas/"
MES21: Final = ROOT + "v2_1/message"
COM21: Final = ROOT + "v2_1/common"
SS21: Final = ROOT + "v2_1/data/structurespecific"
GEN21: Final = ROOT + "v2_1/data/generic"
FOOTER21: Final = ROOT + "v2_1/message/footer"
MES30: Final = ROOT + "v3_0/message"
COM30: Final = ROOT + "v3_0/common"
SS30: Final = ROOT + "v3_0/data/structurespecific"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE: Final = f"{{{XSI}}}type"
XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"

START: Final = "start"
END: Final = "end"
HOLD_LIMIT: Final = 1024  # observations held (and alive in the tree) before they are read
MISSING: Final = "NaN"  # an observation value that means "no value" (read as None)
DEFAULT_DIMENSION_AT_OBSERVATION: Final = "TIME_PERIOD"

# Header reference element (local name) -> the kind of structure it names.
REF_KINDS: Final = {
    "Structure": StructureKind.DATASTRUCTURE,
    "StructureUsage": StructureKind.DATAFLOW,
    "ProvisionAgrement": StructureKind.PROVISIONAGREEMENT,  # sic: the SDMX 2.1 schema's spelling
    "ProvisionAgreement": StructureKind.PROVISIONAGREEMENT,
}
URN_KINDS: Final = {
    "DataStructure": StructureKind.DATASTRUCTURE,
    "Dataflow": StructureKind.DATAFLOW,
    "ProvisionAgreement": StructureKind.PROVISIONAGREEMENT,
}

Handler = Callable[[etree._Element], None]


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def line(elem: etree._Element) -> str:
    return f"line {elem.sourceline}"


# --- safe opening -------------------------------------------------------------------------------

HEAD_SIZE: Final = 64 * 1024
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_LXML_POSITION = re.compile(r", line \d+, column \d+$")


def refuse_doctype(head: bytes) -> None:
    """Refuse a DOCTYPE in the prolog before libxml2 parses it (entities are an attack surface and
    SDMX-ML never needs a DTD). UTF-16 heads are decoded first; lxml's docinfo check backs this up."""
    text = head
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:2] in (b"<\x00", b"\x00<"):
        text = head.decode("utf-16", errors="ignore").encode("utf-8")
    root = _ROOT_START.search(text)
    if b"<!DOCTYPE" in (text[: root.start()] if root else text):
        raise MessageError("DOCTYPE declarations are not accepted in data messages", "line 1")


class _Chained:
    """A file-like object that gives back the peeked head, then the rest of the stream."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head, self._stream = head, stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
            else:
                data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)


PARSER_OPTIONS: Final = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    "collect_ids": False,  # no table of xml:id values: nothing here looks elements up by id
}
FEED_SIZE: Final = 64 * 1024  # bytes fed to a filtered parse between checks of the open elements


def read_head(stream: BinaryIO) -> bytes:
    """The first bytes of a body, refused when empty or when they hold a DOCTYPE. The caller
    parses them and the rest with `PARSER_OPTIONS` (entities off, no network, no DTD), turns
    `etree.XMLSyntaxError` into MessageError with `syntax_error`, and checks the root element
    with `refuse_doctype_after` (for prologs longer than the head, or in encodings the byte
    check does not read)."""
    head = stream.read(HEAD_SIZE)
    if not head.strip():
        raise MessageError("Empty data message; expected an SDMX-ML document", "line 1")
    refuse_doctype(head)
    return head


def probe_root(head: bytes) -> etree._Element | None:
    """The root element as the first bytes declare it (parsed by libxml2 up to its start tag),
    or None when they do not reach it or cannot be parsed (the full parse then says why)."""
    probe = etree.XMLPullParser(events=(START,), **PARSER_OPTIONS)
    try:
        probe.feed(head)
        for _, elem in probe.read_events():
            return elem
    except etree.XMLSyntaxError:
        return None
    return None


def refuse_doctype_after(root: etree._Element) -> None:
    """At the root's start event libxml2 has read the prolog but no entity reference after it."""
    if root.getroottree().docinfo.doctype:
        raise MessageError("DOCTYPE declarations are not accepted in data messages", line(root))


def syntax_error(exc: etree.XMLSyntaxError) -> MessageError:
    lineno, column = exc.position if exc.position else (exc.lineno, 0)
    message = _LXML_POSITION.sub("", exc.msg)
    return MessageError(f"Malformed XML: {message}", f"line {lineno}, column {column}")


# --- header -------------------------------------------------------------------------------------


def _structure_ref(structure: etree._Element) -> StructureRef:
    """A header `Structure` element -> StructureRef (2.1 `Ref`/`URN` children or 3.0 URN text)."""
    at_obs = structure.get("dimensionAtObservation") or DEFAULT_DIMENSION_AT_OBSERVATION
    for child in structure:
        kind = REF_KINDS.get(local(child.tag))
        if kind is None:
            continue
        ref = next((c for c in child if local(c.tag) == "Ref"), None)
        if ref is not None:
            return StructureRef(
                kind, ref.get("agencyID"), ref.get("id", ""), ref.get("version"), at_obs
            )
        urn_elem = next((c for c in child if local(c.tag) == "URN"), None)
        text = (urn_elem.text if urn_elem is not None else child.text or "").strip()
        match = URN.match(text)
        if match is None:
            raise MessageError(
                f"Unreadable structure URN {text!r}; expected urn:sdmx:...=AGENCY:ID(VERSION)",
                line(child),
            )
        kind = URN_KINDS.get(match["cls"], kind)
        return StructureRef(kind, match["agency"], match["id"], match["version"], at_obs)
    raise MessageError(
        "Header Structure names no structure; expected Structure, StructureUsage or ProvisionAgreement",
        line(structure),
    )


def read_header(header: etree._Element, format_name: str) -> tuple[MessageStart, str | None]:
    """The MessageStart of a header, and its DataSetAction (the default for datasets without one)."""
    message_id = sender = action = None
    structures: dict[str, StructureRef] = {}
    for child in header:
        name = local(child.tag)
        if name == "ID":
            message_id = (child.text or "").strip() or None
        elif name == "Sender":
            sender = child.get("id")
        elif name == "Structure":
            structures[child.get("structureID", "")] = _structure_ref(child)
        elif name == "DataSetAction":
            action = (child.text or "").strip() or None
    return MessageStart(message_id, sender, structures, format_name), action


# --- parser base --------------------------------------------------------------------------------


class MLParser:
    """One pass over one message. Subclasses fill `handlers` with `(tag, event) -> handler`."""

    format_name = ""
    dataset_tags: tuple[str, ...] = ()  # the DataSet element tags
    skipped_tags: tuple[str, ...] = ()  # subtrees read as a whole (header) or not at all (footer)
    # The elements that have events, or None for all. A format that filters reads the others from
    # their parents, and checks with `sweep` that every element it reads or drops is known;
    # `check_open` checks the elements still open after each block (see `_events`).
    event_tags: tuple[str, ...] | None = None

    def __init__(self, chunk_size: int = CHUNK_SIZE) -> None:
        self.chunk_size = chunk_size
        self.out: list[Event] = []
        self.message: MessageStart | None = None
        self.header_action: str | None = None
        self.index = -1
        self.pending: DatasetStart | None = None  # a DatasetStart waiting for its attributes
        self.builder = RunChunkBuilder(0, chunk_size, LINE_POSITION)
        self.held: list[etree._Element] = []  # ended observations not read yet (see HOLD)
        self.room = min(chunk_size, HOLD_LIMIT)  # observations that may be held
        self.skipping: etree._Element | None = None
        self.document: etree._Element | None = None  # the root element, once seen
        self.container: etree._Element | None = None  # whose observations `read_children` reads
        self.ended = 0  # observation end events since they were last read (see ENDED)
        self.handlers: dict[str, dict[str, Handler | None]] = {START: {}, END: {}}
        for tag in self.dataset_tags:
            self.on(tag, self.dataset_start, self.dataset_end)
        for tag in self.skipped_tags:
            self.on(tag, self.skip, None)
        self.table = self.handlers

    def on(self, tag: str, start: Handler | None, end: Handler | None) -> None:
        """Register both events of an element (None: a known element, nothing to do then)."""
        self.handlers[START][tag] = start
        self.handlers[END][tag] = end

    # The loop. Output goes to `self.out`, which is drained after every event.
    def run(self, stream: BinaryIO) -> Iterator[Event]:
        out, held = self.out, self.held
        events = self._events(stream)
        try:
            for event, elem in events:
                handler = self.table[event].get(elem.tag, _unknown)  # swapped while skipping
                if handler is None:  # known element, nothing to do at this event
                    continue
                if handler is HOLD:
                    held.append(elem)
                    if len(held) < self.room:
                        continue
                    self.read_held()
                elif handler is ENDED:
                    self.ended += 1
                    if self.ended < self.room:
                        continue
                    self.read_children(elem, inclusive=True)
                else:
                    self.dispatch(event, elem, handler)
                if out:
                    yield from out
                    out.clear()
        except etree.XMLSyntaxError as exc:
            raise syntax_error(exc) from exc
        yield from out
        if self.message is None:  # a message without data sets still says what it was
            yield MessageStart(format=self.format_name)

    def dispatch(self, event: str, elem: etree._Element, handler: Handler) -> None:
        """Any event but an observation's end: observations are read first."""
        if self.held:
            self.read_held()
        if self.container is not None:
            self.read_children(elem)
        if handler is _unknown:
            if elem.getparent() is None and event == START:
                refuse_doctype_after(elem)
                self.root(elem)
                self.document = elem
            else:
                self.unknown(event, elem)
        else:
            handler(elem)

    def _events(self, stream: BinaryIO) -> Iterator[tuple[str, etree._Element]]:
        """(event, element) pairs of the body. With `event_tags`, libxml2 leaves the others out;
        the root is checked first from the head (else everything has events, as without a
        filter), and the elements still open are checked after each `FEED_SIZE` block, so an
        unknown element is refused before it can grow: memory stays bounded."""
        head = read_head(stream)
        root = probe_root(head) if self.event_tags is not None else None
        if root is None:
            yield from etree.iterparse(
                _Chained(head, stream), events=(START, END), **PARSER_OPTIONS
            )
            return
        refuse_doctype_after(root)
        self.root(root)
        tags = [*self.event_tags, root.tag]  # type: ignore[misc]
        parser = etree.XMLPullParser(events=(START, END), tag=tags, **PARSER_OPTIONS)
        data = head
        while data:
            parser.feed(data)
            yield from parser.read_events()
            self.check_open()
            if self.container is not None:
                self.read_children(None)
            data = stream.read(FEED_SIZE)
        parser.close()
        yield from parser.read_events()

    def read_children(self, upto: etree._Element | None, inclusive: bool = False) -> None:
        """Read the `container`'s children that have ended (`read_kids`) and drop them: before
        the one holding `upto` (or up to it, `inclusive`), all of them at the container's end,
        or all but the last one (which may be open) when `upto` is None."""
        container = self.container
        if container is None:
            return
        if upto is None:
            count = len(container) - 1
        elif upto is container:
            count = len(container)
        else:
            child = upto
            while (parent := child.getparent()) is not container:
                if parent is None:
                    return
                child = parent
            count = container.index(child) + inclusive
        self.ended = 0
        if count > 0:
            self.read_kids(container[:count])
            del container[:count]

    def read_kids(self, kids: list[etree._Element]) -> None:
        """Read a container's ended children (formats that set `container` implement it)."""
        raise NotImplementedError

    def check_open(self) -> None:
        """The open elements (the last child of the last child... of the root) must be known;
        a skipped subtree is not looked into."""
        known, skipped = self.handlers[START], set(self.skipped_tags)
        elem = self.document
        while elem is not None and len(elem):
            elem = elem[-1]
            if elem.tag in skipped or self.skipping is not None:
                return
            if elem.tag not in known:
                self.unknown(START, elem)

    def sweep(self, elems: Iterable[etree._Element]) -> None:
        """Every element in `elems` and below must be known (those without events are checked
        here, when they are read or dropped)."""
        known = self.handlers[START]
        for top in elems:
            for elem in top.iter(etree.Element):
                if elem.tag not in known:
                    self.unknown(START, elem)

    def root(self, elem: etree._Element) -> None:
        """Check the root element (subclasses know which ones they read)."""

    def read_held(self) -> None:
        """Read the `held` observations (all ended, in document order), empty the list (in place),
        and set `room`. Formats that register `HOLD` implement it."""
        raise NotImplementedError

    # Skipped subtrees: the table is emptied until the element that started the skip ends.
    def skip(self, elem: etree._Element) -> None:
        self.skipping = elem
        self.table = {START: {}, END: {}}

    def unknown(self, event: str, elem: etree._Element) -> None:
        if self.skipping is not None:
            if event == END and elem is self.skipping:
                self.skipping, self.table = None, self.handlers
                if local(elem.tag) == "Header":
                    self.message, self.header_action = read_header(elem, self.format_name)
                    self.out.append(self.message)
                elem.clear()
            return
        parent = elem.getparent()
        if parent is None:  # the root element's end
            if self.event_tags is not None:
                self.sweep(child for child in elem if child.tag not in self.skipped_tags)
            return
        if local(elem.tag) == "DataSet" and parent.getparent() is None:
            # Some writers (Eurostat) put the DataSet in the DSD's namespace: learn the tag.
            self.on(elem.tag, self.dataset_start, self.dataset_end)
            self.table[event][elem.tag](elem)  # type: ignore[misc]
            return
        where = f" in <{local(parent.tag)}>"
        known = sorted({local(tag) for tag in self.handlers[START]})
        name = local(elem.tag) if elem.tag == local(elem.tag) else f"{local(elem.tag)} ({elem.tag})"
        raise MessageError(
            f"Unexpected element <{name}>{where}; expected one of {', '.join(known)}",
            line(elem),
        )

    # Dataset lifecycle.
    def dataset_start(self, elem: etree._Element) -> None:
        if self.message is None:
            self.message = MessageStart(format=self.format_name)
            self.out.append(self.message)
        self.index += 1
        structure = None
        ref = self.structure_ref(elem)
        if ref is not None:
            structure = self.message.structures.get(ref)
            if structure is None and len(self.message.structures) == 1:
                # Some writers (ISTAT's NSI web service) name the DSD here instead of the header's
                # structureID; with one structure declared there is no doubt which one is meant.
                structure = next(iter(self.message.structures.values()))
            if structure is None:
                known = ", ".join(self.message.structures) or "none"
                raise MessageError(
                    f"DataSet structureRef {ref!r} is not declared in the header; declared: {known}",
                    line(elem),
                )
        elif len(self.message.structures) == 1:
            structure = next(iter(self.message.structures.values()))
        action = self.action(elem) or self.header_action
        self.pending = DatasetStart(
            self.index, structure, action, self.dataset_attributes(elem), line(elem)
        )
        self.builder = RunChunkBuilder(self.index, self.chunk_size, LINE_POSITION)
        self.dataset_began(structure)

    def dataset_began(self, structure: StructureRef | None) -> None:
        """Hook for subclasses (e.g. the generic reader needs the dimension at observation)."""

    def begin(self) -> None:
        """Emit the pending DatasetStart: its attributes are complete once content starts."""
        if self.pending is not None:
            self.out.append(self.pending)
            self.pending = None

    def dataset_end(self, elem: etree._Element) -> None:
        self.container = None
        self.begin()
        self.end_run()
        chunk = self.builder.take()
        if chunk is not None:
            self.out.append(chunk)
        self.release(elem)

    def release(self, elem: etree._Element) -> None:
        """`release`, first checking what it frees when elements are filtered."""
        if self.event_tags is not None:
            previous = elem.getprevious()
            self.sweep([*elem, *([previous] if previous is not None else [])])
        release(elem)

    def flush_if_full(self) -> None:
        if self.builder.full:
            self.out.append(self.builder.take())  # type: ignore[arg-type]

    def end_run(self) -> None:
        """Hook: move rows a subclass holds back (a run) into the builder."""

    def structure_ref(self, elem: etree._Element) -> str | None:
        raise NotImplementedError

    def action(self, elem: etree._Element) -> str | None:
        raise NotImplementedError

    def dataset_attributes(self, elem: etree._Element) -> dict[str, str]:
        raise NotImplementedError


class RunChunkBuilder(ChunkBuilder):
    """A ChunkBuilder that also takes a *run*: consecutive rows sharing one series and one list of
    observation keys, given as value lists. Merging a run is one transpose instead of a dict walk
    per row, which is what keeps structure-specific reading fast. Rows and runs may be mixed."""

    def add_run(
        self,
        lines: list[int],
        series: dict[str, str | None],
        keys: list[str],
        rows: list[list[str]],
    ) -> None:
        self.add_columns(lines, series, dict(zip(keys, zip(*rows, strict=True), strict=True)))


def _unknown(elem: etree._Element) -> None:
    """Marks a (tag, event) missing from the table."""


def HOLD(elem: etree._Element) -> None:  # noqa: N802 - a marker, named like a constant
    """Marks an observation's end event: hold the element, read it later with others."""


def ENDED(elem: etree._Element) -> None:  # noqa: N802 - a marker, named like a constant
    """Marks an observation's end event when observations are read as the `container`'s
    children: count it, and read them when `room` have ended."""


def release(elem: etree._Element) -> None:
    """Free an element that has been read, and the already-read sibling before it."""
    elem.clear()
    previous = elem.getprevious()
    if previous is not None:
        elem.getparent().remove(previous)


def drop_before(elem: etree._Element) -> None:
    """Free the already-read siblings before an element. Not `del parent[:-1]`: iterparse parses
    ahead, so the tree may already hold siblings after `elem` whose events are still to come."""
    parent = elem.getparent()
    if parent is not None:
        index = parent.index(elem)
        if index:
            del parent[:index]


def without_missing(values: dict[str, str | None]) -> dict[str, str | None]:
    """`NaN` means no value: report it as None rather than as a number that is not there."""
    for key, value in values.items():
        if value == MISSING:
            values[key] = None
    return values
