"""Small whole messages: SDMX error messages (ML 2.1, ML 3.0, JSON) and the SDMX-ML 2.1
SubmitStructureResponse that answers structure maintenance."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from app.formats.sdmxml import NOT_XML_TEXT, NS21, NS30

REG21 = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/registry"


def _text(parent: etree._Element, tag: str, text: str) -> None:
    element = etree.SubElement(parent, tag)
    element.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    element.text = NOT_XML_TEXT.sub("\ufffd", text)  # a NUL from a URL must not break the error


def error_xml(code: int, text: str, *, v30: bool = False) -> bytes:
    """An SDMX-ML error message (2.1, or 3.0 when `v30`)."""
    ns = NS30 if v30 else NS21
    root = etree.Element(f"{{{ns['mes']}}}Error", nsmap={"mes": ns["mes"], "com": ns["com"]})
    message = etree.SubElement(root, f"{{{ns['mes']}}}ErrorMessage", code=str(code))
    _text(message, f"{{{ns['com']}}}Text", text)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def error_json(code: int, title: str, detail: str) -> bytes:
    """An SDMX-JSON (2.0) error message."""
    body = {
        "meta": {
            "schema": "",
            "id": "DSM_ERROR",
            "prepared": _now(),
            "test": False,
            "sender": {"id": "DSM"},
        },
        "errors": [{"code": code, "title": title, "detail": detail}],
    }
    return json.dumps(body, ensure_ascii=False).encode()


@dataclass(frozen=True)
class SubmissionResult:
    """One artefact of a structure submission: its URN, the action and how it went."""

    urn: str
    action: str  # Append | Replace | Delete
    status: str  # Success | Warning | Failure
    text: str = ""


def submit_structure_response(results: Sequence[SubmissionResult], receiver: str) -> bytes:
    """An SDMX-ML 2.1 RegistryInterface message with one SubmissionResult per artefact."""
    mes, com = NS21["mes"], NS21["com"]
    root = etree.Element(
        f"{{{mes}}}RegistryInterface", nsmap={"mes": mes, "com": com, "reg": REG21}
    )
    header = etree.SubElement(root, f"{{{mes}}}Header")
    etree.SubElement(header, f"{{{mes}}}ID").text = "DSM_SUBMIT"
    etree.SubElement(header, f"{{{mes}}}Test").text = "false"
    etree.SubElement(header, f"{{{mes}}}Prepared").text = _now()
    etree.SubElement(header, f"{{{mes}}}Sender", id="DSM")
    etree.SubElement(header, f"{{{mes}}}Receiver", id=receiver or "unknown")
    response = etree.SubElement(root, f"{{{mes}}}SubmitStructureResponse")
    for result in results:
        item = etree.SubElement(response, f"{{{REG21}}}SubmissionResult")
        submitted = etree.SubElement(item, f"{{{REG21}}}SubmittedStructure", action=result.action)
        obj = etree.SubElement(submitted, f"{{{REG21}}}MaintainableObject")
        etree.SubElement(obj, "URN").text = result.urn
        status = etree.SubElement(item, f"{{{REG21}}}StatusMessage", status=result.status)
        if result.text:
            text = etree.SubElement(status, f"{{{REG21}}}MessageText")
            _text(text, f"{{{com}}}Text", result.text)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
