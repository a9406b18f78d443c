"""A JSON body read a window of text at a time: walk its objects and arrays, decode the pieces.

`JSONText` never holds more than one piece (a value the caller decodes whole) plus a block of
text. The caller walks the containers it wants to stream (`members`, `elements`) and decodes the
rest with `value`, which uses the `json` module's own scanner. Errors are the `json` module's:
the same message at the same line and column as `json.loads` of the whole body would give, since
the walk checks punctuation exactly as its scanner does.

Bytes are decoded as `json.loads` decodes them: UTF-8 (a BOM allowed), UTF-16 or UTF-32 as told
by the first bytes, surrogates passed through.
"""

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, Final

from app.model.data import MessageError

BLOCK_SIZE: Final = 1 << 20  # bytes decoded at a time
_MARGIN: Final = 1024  # an error this far before the end of the window is not for want of text
_WS = re.compile(r"[ \t\n\r]*")
_KEY = re.compile(r'[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')  # a plain key and ':'
_AFTER = re.compile(r"[ \t\n\r]*([,}])")
_DECODER = json.JSONDecoder()
_scan = _DECODER.scan_once


class TooLarge(Exception):
    """A piece over the caller's limit (the caller says which limit it was)."""


class JSONText:
    """The decoded text of a body, a window at a time; `pos` is the reading place in the window."""

    def __init__(self, stream: BinaryIO, max_bytes: int) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.read_bytes = 0  # bytes read from the stream so far
        self.text = ""
        self.pos = 0
        self.eof = False
        self.before = 0  # characters dropped before the window
        self.lines_before = 0  # line breaks in them
        self.last_break = -1  # absolute index of the last line break dropped
        head = stream.read(4)
        self._count(head)
        encoding = json.detect_encoding(head)
        self.bom = 0
        if encoding == "utf-8-sig":  # json reports byte offsets after the BOM
            encoding, self.bom = "utf-8", 3
        self.decoder = codecs.getincrementaldecoder(encoding)("surrogatepass")
        self.fed = 0  # bytes given to the decoder (after the BOM)
        self._decode(head[self.bom :] if head.startswith(codecs.BOM_UTF8) else head)

    def _count(self, block: bytes) -> None:
        self.read_bytes += len(block)
        if self.read_bytes > self.max_bytes:
            raise MessageError(
                f"SDMX-JSON message over {self.max_bytes} bytes; expected at most that"
                " (send large data as SDMX-CSV or SDMX-ML)"
            )

    def _decode(self, block: bytes, final: bool = False) -> None:
        pending = len(self.decoder.getstate()[0])
        try:
            self.text += self.decoder.decode(block, final)
        except UnicodeDecodeError as e:
            where = self.fed - pending + e.start + 1
            raise MessageError(
                f"Bytes not UTF-8 ({e.reason}); expected UTF-8 JSON", f"byte {where}"
            ) from None
        self.fed += len(block)

    def more(self) -> bool:
        """Read another block into the window (dropping what was read); False at the end."""
        if self.eof:
            return False
        self.drop()
        block = self.stream.read(BLOCK_SIZE)
        self._count(block)
        self._decode(block, final=not block)
        if not block:
            self.eof = True
        return True

    def drop(self) -> None:
        """Forget the text before `pos`."""
        if self.pos:
            gone = self.text[: self.pos]
            breaks = gone.count("\n")
            if breaks:
                self.lines_before += breaks
                self.last_break = self.before + gone.rindex("\n")
            self.before += self.pos
            self.text, self.pos = self.text[self.pos :], 0

    def error(self, message: str, at: int) -> MessageError:
        """MessageError for a `json` error at window index `at`, placed as `json.loads` would."""
        line = self.lines_before + self.text.count("\n", 0, at) + 1
        local = self.text.rfind("\n", 0, at)
        column = at - local if local >= 0 else self.before + at - self.last_break
        return MessageError(f"Malformed JSON: {message}", f"line {line}, column {column}")

    # -- reading ---------------------------------------------------------------------------------

    def peek(self) -> str:
        """The next character after white space ("" at the end), at `pos`."""
        while True:
            self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.more():
                return ""

    def value(self, limit: int) -> Any:
        """Decode the value at `pos` (after white space) and move past it. A value the window cuts
        is decoded again with more text; TooLarge past `limit` characters, unless the error is a
        real one, well before the end of the window."""
        self.peek()
        while True:
            try:
                value, end = _scan(self.text, self.pos)
            except StopIteration as stop:
                message, at = "Expecting value", stop.value
            except json.JSONDecodeError as e:
                message, at = e.msg, e.pos
            else:
                if end < len(self.text) or self.eof:
                    self.pos = end
                    return value
                message, at = "", len(self.text)  # a number may go on in the next block
            if self.eof:
                raise self.error(message, at)
            at -= self.pos
            self.drop()  # the window now starts with the value
            if len(self.text) > limit:
                real = message and not message.startswith("Unterminated")
                if real and at < len(self.text) - _MARGIN:
                    raise self.error(message, at)
                raise TooLarge
            self._grow()

    def _grow(self) -> None:
        """Add a block to the window without dropping anything."""
        pos, self.pos = self.pos, 0
        self.more()
        self.pos = pos

    def members(self, where: str = "") -> Iterator[str]:
        """Walk the object at `pos`: yield each key with `pos` at its value, which the caller must
        read (`value`, or a nested walk) before asking for the next key."""
        if self.peek() != "{":
            raise self.error("Expecting value", self.pos)  # callers check first; a safeguard
        self.pos += 1
        char = self.peek()
        if char == "}":
            self.pos += 1
            return
        while True:
            if char != '"':
                raise self.error("Expecting property name enclosed in double quotes", self.pos)
            key = self._key()
            if self.peek() != ":":
                raise self.error("Expecting ':' delimiter", self.pos)
            self.pos += 1
            if not self.peek():
                raise self.error("Expecting value", self.pos)
            yield key
            char = self.peek()
            self.pos += 1
            if char == "}":
                return
            if char != ",":
                raise self.error("Expecting ',' delimiter", self.pos - 1)
            char = self.peek()

    def items(self, limit: int) -> Iterator[tuple[str, Any]]:
        """Walk the object at `pos` (after `peek` found "{"), decoding each member's value whole:
        (key, value) pairs. Plain members are matched in one go; any other, or one the window
        cuts, takes the careful way (`members`' checks), so errors are the same. TooLarge(key)
        past `limit` characters."""
        self.pos += 1
        if self.peek() == "}":
            self.pos += 1
            return
        text, pos = self.text, self.pos
        while True:
            key = _KEY.match(text, pos)
            if key is not None:
                try:
                    value, end = _scan(text, key.end())
                except (StopIteration, json.JSONDecodeError):
                    end = len(text)
                after = _AFTER.match(text, end) if end < len(text) else None
                if after is not None:
                    self.pos = after.end()
                    yield key.group(1), value
                    if after.group(1) == "}":
                        return
                    text, pos = self.text, self.pos
                    continue
            self.pos = pos
            name, value, last = self._member(limit)
            yield name, value
            if last:
                return
            text, pos = self.text, self.pos

    def _member(self, limit: int) -> tuple[str, Any, bool]:
        """One member at `pos`, the careful way: (key, value, whether it was the last)."""
        if self.peek() != '"':
            raise self.error("Expecting property name enclosed in double quotes", self.pos)
        key = self._key()
        if self.peek() != ":":
            raise self.error("Expecting ':' delimiter", self.pos)
        self.pos += 1
        if not self.peek():
            raise self.error("Expecting value", self.pos)
        try:
            value = self.value(limit)
        except TooLarge:
            raise TooLarge(key) from None
        char = self.peek()
        self.pos += 1
        if char == "}":
            return key, value, True
        if char != ",":
            raise self.error("Expecting ',' delimiter", self.pos - 1)
        return key, value, False

    def _key(self) -> str:
        while True:
            try:
                key, end = json.decoder.scanstring(self.text, self.pos + 1)
            except json.JSONDecodeError as e:
                if self.eof:
                    raise self.error(e.msg, e.pos) from None
                self.drop()
                self._grow()
            else:
                self.pos = end
                return key

    def elements(self) -> Iterator[int]:
        """Walk the array at `pos`: yield each index with `pos` at the element, which the caller
        must read before asking for the next."""
        self.pos += 1
        if self.peek() == "]":
            self.pos += 1
            return
        index = 0
        while True:
            if not self.peek():
                raise self.error("Expecting value", self.pos)
            yield index
            index += 1
            char = self.peek()
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                raise self.error("Expecting ',' delimiter", self.pos - 1)

    def end(self) -> None:
        """After the top-level value: only white space may follow."""
        if self.peek():
            raise self.error("Extra data", self.pos)
