"""The parsed structure query: what a REST structure path and its `references`/`detail` ask for.

Pure: no I/O, no sdmx1. The API layer parses path segments and query parameters with
`StructureQuery.parse`; the registry (`app.services.registry`) answers the query. Bad syntax raises
`QuerySyntaxError` (a `ValueError`) naming the parameter, the value and what was expected; the API layer
maps it to HTTP 400.

Two dialects, chosen by ``api``:

- ``"v1"`` (SDMX REST 1.x, SDMX 2.1): lists use ``+``; ``all`` means any; version ``latest`` is the latest
  version of each matched (agency, id) whatever its status, ``all`` every version, else exact versions
  (``1.0``, ``1.0.0``; a semantic-version extension such as ``1.0.0-draft`` is accepted too).
- ``"v2"`` (SDMX REST 2.x, SDMX 3.0): lists use ``,``; ``*`` means any (``all`` and ``latest`` are accepted
  as aliases of ``*`` and ``~``). Versions follow the spec's grammar exactly (the ``versions`` pattern of
  the 2.2.2 OpenAPI document; sdmx-rest ``doc/querying_versions.md``). With ``X``, ``Y``, ``Z`` numbers:

  ======================  ==========================================================================
  ``X.Y``, ``X.Y.Z[-e]``  exactly that version (``X`` alone: the deprecated one-part form)
  ``+``                   latest *stable* version: ``x.y.z``, no extension, ``x >= 1``; = ``1+.0.0``
  ``X.+.0`` / ``X.Y.+``   latest stable ``X.y.z`` / ``X.Y.z`` (``X >= 1``)
  ``X+.Y.Z``              latest stable ``x.y.z >= X.Y.Z``; ``X.Y+.Z``: within major ``X``,
                          ``y.z >= Y.Z``; ``X.Y.Z+``: within ``X.Y``, ``z >= Z``
  ``~``                   latest version of any form, drafts included
  ``~.0`` / ``~.0.0``     latest of the form ``x.y`` / ``x.y.z[-ext]``
  ``X.~``, ``X.~.0``,     latest ``X.y`` / ``X.y.z[-ext]`` / ``X.Y.z[-ext]``
  ``X.Y.~``
  ``X~.Y``, ``X.Y~``,     latest at or above a minimum, as for ``+`` but any status and either form
  ``X~.Y.Z`` ...
  ``*`` and ``*`` forms   like ``~`` but every matching version instead of the latest one
  ======================  ==========================================================================

  A bare operator in a position counts as ``0`` with that operator (``X.~.0`` = ``X.0~.0``); parts before
  the operator are fixed, the operator part and the parts after it form a minimum (compared as a tuple).
  A two-part expression matches only two-part versions and a three-part one only three-part versions.

Version ordering (`Version`): numeric parts compare as numbers, so ``1.10 > 1.9``; ``1.0`` and ``1.0.0``
are equal in precedence (the shorter sorts first); an extension lowers a version below its release, as
in semantic versioning (``2.1.0-draft < 2.1.0``), extensions comparing identifier by identifier.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

Api = Literal["v1", "v2"]

# REST resource names. The canonical (concrete) names are those of SDMX-ML 2.1 containers
# (app.formats.sdmxml.CONTAINERS_21) plus the SDMX 3.0 types sdmx1 can hold.
CONCRETE_RESOURCES: Final = (
    "agencyscheme",
    "dataconsumerscheme",
    "dataproviderscheme",
    "organisationunitscheme",
    "dataflow",
    "metadataflow",
    "categoryscheme",
    "categorisation",
    "codelist",
    "hierarchicalcodelist",
    "conceptscheme",
    "metadatastructure",
    "datastructure",
    "structureset",
    "process",
    "reportingtaxonomy",
    "attachmentconstraint",
    "contentconstraint",
    "provisionagreement",
    # SDMX 3.0 only
    "hierarchy",
    "hierarchyassociation",
    "valuelist",
    "metadataconstraint",
    "metadataprovisionagreement",
    "metadataproviderscheme",
    "transformationscheme",
    "rulesetscheme",
    "userdefinedoperatorscheme",
    "customtypescheme",
    "namepersonalisationscheme",
    "namealiasscheme",
    "vtlmappingscheme",
    "structuremap",
    "representationmap",
    "conceptschememap",
    "categoryschememap",
    "organisationschememap",
    "reportingtaxonomymap",
)
# Names that stand for several concrete types (or for a subset of one, for constraints by role).
ORGANISATION_SCHEMES: Final = (
    "agencyscheme",
    "dataconsumerscheme",
    "dataproviderscheme",
    "organisationunitscheme",
)
GROUP_RESOURCES: Final[dict[str, tuple[str, ...]]] = {
    "structure": CONCRETE_RESOURCES,
    "*": CONCRETE_RESOURCES,
    "all": CONCRETE_RESOURCES,  # the v2 example `structure/all/ECB`
    "organisationscheme": ORGANISATION_SCHEMES,
    "dataconstraint": ("contentconstraint",),
    "actualconstraint": ("contentconstraint",),
    "allowedconstraint": ("contentconstraint",),
}
RESOURCES: Final = frozenset(CONCRETE_RESOURCES) | frozenset(GROUP_RESOURCES)
# Item schemes: the resources whose path may carry an itemID.
ITEM_SCHEMES: Final = frozenset(
    {
        "agencyscheme",
        "categoryscheme",
        "codelist",
        "conceptscheme",
        "customtypescheme",
        "dataconsumerscheme",
        "dataproviderscheme",
        "hierarchicalcodelist",
        "metadataproviderscheme",
        "namealiasscheme",
        "namepersonalisationscheme",
        "organisationscheme",
        "organisationunitscheme",
        "reportingtaxonomy",
        "rulesetscheme",
        "transformationscheme",
        "userdefinedoperatorscheme",
        "valuelist",
        "vtlmappingscheme",
        "*",
    }
)

REFERENCE_MODES: Final = (
    "none",
    "parents",
    "parentsandsiblings",
    "ancestors",
    "children",
    "descendants",
    "all",
)
DETAILS: Final = (
    "full",
    "allstubs",
    "referencestubs",
    "allcompletestubs",
    "referencecompletestubs",
    "referencepartial",
    "raw",
)


class QuerySyntaxError(ValueError):
    """A structure query parameter that does not follow the REST grammar (HTTP 400)."""

    def __init__(self, parameter: str, value: str, expected: str):
        self.parameter, self.value, self.expected = parameter, value, expected
        super().__init__(f"invalid {parameter} {value!r}; expected {expected}")


# ---------------------------------------------------------------------------------------------------
# Versions


@dataclass(frozen=True)
class Version:
    """A stored artefact version, ordered by SDMX semantic-versioning precedence."""

    text: str
    parts: tuple[int, ...]
    extension: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Version":
        """Parse an artefact's version; anything unparseable orders before every real version."""
        head, _, ext = str(text).partition("-")
        try:
            parts = tuple(int(p) for p in head.split("."))
        except ValueError:
            return cls(str(text), (), None)
        return cls(str(text), parts, ext or None)

    @property
    def is_semantic(self) -> bool:
        return len(self.parts) == 3

    @property
    def is_stable(self) -> bool:
        """Stable in the SDMX 3.0 sense: ``x.y.z`` with ``x >= 1`` and no extension."""
        return self.is_semantic and self.extension is None and self.parts[0] >= 1

    @property
    def sort_key(self) -> tuple:
        padded = self.parts + (0,) * (3 - len(self.parts))
        ext = (1,) if self.extension is None else (0, *map(_ext_key, self.extension.split(".")))
        return (bool(self.parts), padded, ext, len(self.parts), self.text)

    def __lt__(self, other: "Version") -> bool:
        return self.sort_key < other.sort_key

    def __str__(self) -> str:
        return self.text


def _ext_key(identifier: str) -> tuple:
    # semver: numeric identifiers sort numerically and before alphanumeric ones
    return (0, int(identifier), "") if identifier.isdigit() else (1, 0, identifier)


_N = r"(?:0|[1-9]\d*)"
_EXT = r"(?:[A-Za-z-][A-Za-z0-9-]*|[A-Za-z0-9-]+[A-Za-z-][A-Za-z0-9-]*|0|[1-9][0-9]*)"
# One item of the v2 `versions` path parameter: the OpenAPI 2.2.2 pattern, alternative by alternative.
_V2_VERSION: Final = re.compile(
    rf"""
    \+ | ~(?:\.0){{0,2}} | \*(?:\.0){{0,2}}
    | {_N}(?:\.{_N})?
    | {_N}(?:\.{_N}){{2}}(?:-{_EXT}(?:\.{_EXT})*)?
    | \+\.0\.0
    | [1-9]\d*(?:\.\+\.0 | \+(?:\.{_N}){{2}} | \.{_N}(?:\.\+ | \+\.{_N} | \.{_N}\+))
    | {_N}(?:[*~](?:\.{_N}){{1,2}} | \.[*~](?:\.0)? | \.{_N}(?:[*~](?:\.{_N})? | \.{_N}?[*~]))
    """,
    re.VERBOSE,
)
_V1_VERSION: Final = re.compile(rf"\d+(?:\.\d+)*(?:-{_EXT}(?:\.{_EXT})*)?")
_V2_EXPECTED = "'*', '~', '+', an exact version such as 1.0 or 1.0.0, or a wildcard such as 1.2+.0"
_V1_EXPECTED = "'all', 'latest', or versions such as 1.0 separated by '+'"


@dataclass(frozen=True)
class VersionExpr:
    """One version expression: which versions of one artefact it matches.

    - ``op``: ``"="`` exact, ``"+"`` latest stable, ``"~"`` latest, ``"*"`` all.
    - ``exact``: the version text for ``"="``.
    - ``fixed``: leading parts that must be equal (``1.2.~`` fixes ``(1, 2)``).
    - ``minimum``: the parts from the operator position on must be >= this tuple.
    - ``nparts``: 2 or 3 to restrict the form (``x.y`` / ``x.y.z``), ``None`` for any.
    """

    op: Literal["=", "+", "~", "*"]
    exact: str = ""
    fixed: tuple[int, ...] = ()
    minimum: tuple[int, ...] = ()
    nparts: int | None = None

    def admits(self, version: Version) -> bool:
        """Whether ``version`` is a candidate (before choosing the latest for ``+`` and ``~``)."""
        if self.op == "=":
            return version.text == self.exact
        if self.op == "+" and not version.is_stable:
            return False
        if self.nparts is not None and len(version.parts) != self.nparts:
            return False
        n = len(self.fixed)
        if version.parts[:n] != self.fixed:
            return False
        return version.parts[n:] >= self.minimum

    def pick(self, versions: Iterable[Version]) -> list[Version]:
        """The versions this expression selects among ``versions`` (of one artefact)."""
        candidates = sorted(v for v in versions if self.admits(v))
        if self.op in ("+", "~"):
            return candidates[-1:]
        return candidates


ALL_VERSIONS: Final = VersionExpr("*")
LATEST: Final = VersionExpr("~")


def parse_versions(text: str, api: Api = "v2") -> tuple[VersionExpr, ...]:
    """Parse the version path parameter (a list) into expressions; raise QuerySyntaxError."""
    if api == "v1":
        return tuple(_parse_v1_version(item) for item in text.split("+"))
    return tuple(_parse_v2_version(item) for item in text.split(","))


def _parse_v1_version(item: str) -> VersionExpr:
    if item == "all":
        return ALL_VERSIONS
    if item == "latest":
        return LATEST
    if not _V1_VERSION.fullmatch(item):
        raise QuerySyntaxError("version", item, _V1_EXPECTED)
    return VersionExpr("=", exact=item)


def _parse_v2_version(item: str) -> VersionExpr:
    item = {"all": "*", "latest": "~"}.get(item, item)
    if not _V2_VERSION.fullmatch(item):
        raise QuerySyntaxError("version", item, _V2_EXPECTED)
    if item in ("+", "+.0.0"):
        return VersionExpr("+", minimum=(1, 0, 0), nparts=3)
    if item in ("~", "*"):
        return VersionExpr(item)  # type: ignore[arg-type]
    if not any(op in item for op in "+~*"):
        return VersionExpr("=", exact=item)
    parts = item.split(".")
    op = next(ch for ch in item if ch in "+~*")
    position = next(i for i, p in enumerate(parts) if op in p)
    fixed = tuple(int(p) for p in parts[:position])
    minimum = tuple(int(p.rstrip(op) or 0) for p in parts[position:])
    return VersionExpr(op, fixed=fixed, minimum=minimum, nparts=len(parts))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# The query

_AGENCY = re.compile(r"[A-Za-z][A-Za-z\d_-]*(?:\.[A-Za-z][A-Za-z\d_-]*)*")
_ID = re.compile(r"[A-Za-z\d_@$-]+")
_ITEM = re.compile(r"[A-Za-z\d_@$-]+(?:\.[A-Za-z\d_@$-]+)*")


@dataclass(frozen=True)
class StructureQuery:
    """A parsed structure query. ``None`` for agencies/ids/items means "any"."""

    resource: str = "*"
    agencies: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    versions: tuple[VersionExpr, ...] = (LATEST,)
    items: tuple[str, ...] | None = None
    references: tuple[str, ...] = ("none",)
    detail: str = "full"
    api: Api = "v2"

    @classmethod
    def parse(
        cls,
        resource: str,
        agency: str | None = None,
        resource_id: str | None = None,
        version: str | None = None,
        item: str | None = None,
        *,
        references: str | None = None,
        detail: str | None = None,
        api: Api = "v2",
    ) -> "StructureQuery":
        """Parse REST path segments and query parameters; omitted ones take the spec's defaults.

        Defaults: agency and id any; version ``latest`` (v1) or ``~`` (v2); items any;
        references ``none``; detail ``full``.
        """
        if resource not in RESOURCES:
            raise QuerySyntaxError(
                "resource type", resource, f"one of {', '.join(sorted(RESOURCES))}"
            )
        sep = "+" if api == "v1" else ","
        if item is not None and resource not in ITEM_SCHEMES:
            raise QuerySyntaxError("itemID", item, f"no itemID: {resource} is not an item scheme")
        return cls(
            resource=resource,
            agencies=_parse_ids("agencyID", agency, sep, _AGENCY),
            ids=_parse_ids("resourceID", resource_id, sep, _ID),
            versions=parse_versions(version or ("latest" if api == "v1" else "~"), api),
            items=_parse_ids("itemID", item, sep, _ITEM),
            references=parse_references(references or "none", api),
            detail=parse_detail(detail or "full", api),
            api=api,
        )

    @property
    def has_items(self) -> bool:
        return self.items is not None


def _parse_ids(
    parameter: str, text: str | None, sep: str, pattern: re.Pattern
) -> tuple[str, ...] | None:
    if text is None or text in ("all", "*"):
        return None
    values = tuple(text.split(sep))
    for value in values:
        if not pattern.fullmatch(value):
            raise QuerySyntaxError(
                parameter,
                value,
                f"'*', 'all', or ids matching {pattern.pattern} separated by {sep!r}",
            )
    return values


def parse_references(text: str, api: Api = "v2") -> tuple[str, ...]:
    """Parse `references`: v1 one value, v2 a comma-separated list (modes or concrete resource types)."""
    values = (text,) if api == "v1" else tuple(text.split(","))
    allowed = set(REFERENCE_MODES) | set(RESOURCES) - {"*", "structure", "all"}
    if api == "v1":
        allowed -= {"ancestors"}
    for value in values:
        if value not in allowed:
            raise QuerySyntaxError(
                "references",
                value,
                f"one of {', '.join(REFERENCE_MODES)} or a structure type such as codelist",
            )
    return values


def parse_detail(text: str, api: Api = "v2") -> str:
    """Parse `detail` (the structure values; ``raw`` exists in v2 only)."""
    allowed = DETAILS if api == "v2" else DETAILS[:-1]
    if text not in allowed:
        raise QuerySyntaxError("detail", text, f"one of {', '.join(allowed)}")
    return text
