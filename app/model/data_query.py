"""The parsed data query: what a REST v1 or v2 data path and its parameters ask for.

Pure: no I/O. Keys are kept as text until the service knows the DSD (how many dimensions); bad
syntax raises `QuerySyntaxError` naming the parameter, the value and what was expected (HTTP 400).

v1 (SDMX REST 1.5): `/data/{flowRef}/{key}/{providerRef}`
  flowRef  `ID`, `AGENCY,ID`, `AGENCY,ID,VERSION` (`%2C` decoded; `latest`, `all` versions)
  key      dot-separated positions, each empty (any) or `A+B`; `all` = everything
  provider `PROVIDER`, `AGENCY,PROVIDER`, `+` lists, `all`
v2 (SDMX REST 2.2): `/data/{context}/{agencyID}/{resourceID}/{version}/{key}`
  context  dataflow | datastructure | provisionagreement | *
  key      dot-separated positions, each `*` (any) or one code; several keys joined by `,` (OR)
  c[COMP]  `op:value` conditions; `,` = OR, `+` (or a space) = AND; ops eq ne lt le gt ge co nc sw ew
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from app.model.query import Api, QuerySyntaxError, VersionExpr, parse_versions

DETAILS: Final = ("full", "dataonly", "serieskeysonly", "nodata")
OPERATORS: Final = ("eq", "ne", "lt", "le", "gt", "ge", "co", "nc", "sw", "ew")
CONTEXTS: Final = ("dataflow", "datastructure", "provisionagreement", "*")
_ID = re.compile(r"[A-Za-z0-9_@$\-]+")


@dataclass(frozen=True)
class Condition:
    op: str  # one of OPERATORS
    value: str


@dataclass(frozen=True)
class ComponentFilter:
    """`c[COMPONENT]=...`: any of `alternatives` (OR), each a tuple of conditions (AND)."""

    component: str
    alternatives: tuple[tuple[Condition, ...], ...]


@dataclass(frozen=True)
class DataQuery:
    api: Api
    context: str = "dataflow"
    agencies: tuple[str, ...] | None = None  # None: any
    ids: tuple[str, ...] | None = None
    versions: tuple[VersionExpr, ...] = ()
    keys: tuple[tuple[tuple[str, ...] | None, ...], ...] | None = None  # per key, per position
    providers: tuple[str, ...] | None = None
    filters: tuple[ComponentFilter, ...] = ()
    start_period: str | None = None
    end_period: str | None = None
    updated_after: datetime | None = None
    as_of: datetime | None = None
    first_n: int | None = None
    last_n: int | None = None
    dimension_at_observation: str = "TIME_PERIOD"
    detail: str = "full"
    include_history: bool = False
    attributes: str | tuple[str, ...] = "dsd"  # dsd | all | none | dataset | series | obs | ids
    measures: str | tuple[str, ...] = "all"  # all | none | ids
    offset: int = 0
    limit: int | None = None
    sort: tuple[tuple[str, bool], ...] = ()  # (component or "*" or "series_key", descending)
    extra: dict[str, str] = field(default_factory=dict)


def _split_key(text: str, sep: str, wildcard: str) -> tuple[tuple[str, ...] | None, ...]:
    positions = []
    for part in text.split("."):
        if part in ("", wildcard):
            positions.append(None)
            continue
        values = tuple(part.split(sep)) if sep else (part,)
        for value in values:
            if not _ID.fullmatch(value):
                raise QuerySyntaxError("key", text, "dimension codes separated by '.'")
        positions.append(values)
    return tuple(positions)


def parse_flow_ref(text: str) -> tuple[str | None, str, str]:
    """v1 flowRef -> (agency or None, id, version expression text)."""
    parts = text.split(",")
    if len(parts) == 1:
        agency, ident, version = None, parts[0], "latest"
    elif len(parts) == 2:
        agency, ident, version = parts[0], parts[1], "latest"
    elif len(parts) == 3:
        agency, ident, version = parts
    else:
        raise QuerySyntaxError("flowRef", text, "ID, AGENCY,ID or AGENCY,ID,VERSION")
    if not _ID.fullmatch(ident) or (
        agency is not None and agency != "all" and not _ID.fullmatch(agency)
    ):
        raise QuerySyntaxError("flowRef", text, "ID, AGENCY,ID or AGENCY,ID,VERSION")
    return (None if agency in (None, "all") else agency), ident, version or "latest"


def parse_time(parameter: str, text: str | None) -> datetime | None:
    """An ISO 8601 date-time (a date alone means its midnight; no offset means UTC)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError as exc:
        raise QuerySyntaxError(
            parameter, text, "an ISO 8601 date-time such as 2024-01-31T12:00:00Z"
        ) from exc
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


MAX_COUNT: Final = 1_000_000_000  # larger counts and offsets are refused, not sent to SQL


def parse_positive(parameter: str, text: str | None, minimum: int = 1) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= MAX_COUNT:
        raise QuerySyntaxError(parameter, text, f"an integer from {minimum} to {MAX_COUNT}")
    return value


def parse_filter(component: str, text: str) -> ComponentFilter:
    """`c[COMP]` value: `,` separates alternatives (OR), `+` or a space conditions (AND)."""
    if not _ID.fullmatch(component):
        raise QuerySyntaxError("c", component, "a component id in c[...]")
    alternatives = []
    for alternative in text.split(","):
        conditions = []
        for part in re.split(r"[+ ]", alternative):
            if not part:
                continue
            op, sep, value = part.partition(":")
            if not sep or op not in OPERATORS:
                op, value = "eq", part
            conditions.append(Condition(op, value))
        if not conditions:
            raise QuerySyntaxError(f"c[{component}]", text, "op:value conditions")
        alternatives.append(tuple(conditions))
    return ComponentFilter(component, tuple(alternatives))


def parse_sort(text: str | None) -> tuple[tuple[str, bool], ...]:
    if not text:
        return ()
    result = []
    for part in text.split("+"):
        name, _, order = part.partition(":")
        if order not in ("", "asc", "desc") or not (
            name in ("*", "series_key") or _ID.fullmatch(name)
        ):
            raise QuerySyntaxError(
                "sort", text, "components joined by '+', each optionally :asc or :desc"
            )
        result.append((name, order == "desc"))
    return tuple(result)


def _list_param(text: str | None, default: str, keywords: tuple[str, ...]) -> str | tuple[str, ...]:
    if text is None or text == "":
        return default
    if text in keywords:
        return text
    values = tuple(v for v in text.split(",") if v)
    for value in values:
        if not _ID.fullmatch(value):
            raise QuerySyntaxError(
                "attributes/measures", text, f"one of {', '.join(keywords)} or ids"
            )
    return values


def parse_common(params: dict[str, str], api: Api) -> dict:
    """The parameters shared by v1 and v2 data queries."""
    detail = params.get("detail", "full")
    if detail not in DETAILS:
        raise QuerySyntaxError("detail", detail, f"one of {', '.join(DETAILS)}")
    history = params.get("includeHistory", "false").lower()
    if history not in ("true", "false"):
        raise QuerySyntaxError("includeHistory", history, "true or false")
    dimension = params.get("dimensionAtObservation", "TIME_PERIOD")
    if dimension != "AllDimensions" and not _ID.fullmatch(dimension):
        raise QuerySyntaxError(
            "dimensionAtObservation", dimension, "TIME_PERIOD, a dimension id or AllDimensions"
        )
    return {
        "updated_after": parse_time("updatedAfter", params.get("updatedAfter")),
        "first_n": parse_positive("firstNObservations", params.get("firstNObservations")),
        "last_n": parse_positive("lastNObservations", params.get("lastNObservations")),
        "dimension_at_observation": dimension,
        "detail": detail,
        "include_history": history == "true",
    }


def parse_v1(
    flow_ref: str, key: str | None, provider: str | None, params: dict[str, str]
) -> DataQuery:
    agency, ident, version = parse_flow_ref(flow_ref)
    keys = None if key in (None, "", "all") else (_split_key(key, "+", ""),)
    providers = None
    if provider not in (None, "", "all"):
        providers = tuple(p.split(",")[-1] for p in provider.split("+"))
        for value in providers:
            if not _ID.fullmatch(value):
                raise QuerySyntaxError(
                    "providerRef", provider, "PROVIDER or AGENCY,PROVIDER, '+' lists"
                )
    return DataQuery(
        api="v1",
        agencies=(agency,) if agency else None,
        ids=(ident,),
        versions=parse_versions(version, "v1"),
        keys=keys,
        providers=providers,
        start_period=params.get("startPeriod") or None,
        end_period=params.get("endPeriod") or None,
        **parse_common(params, "v1"),
    )


def parse_v2(
    context: str, agency: str, ident: str, version: str, key: str | None, params: dict[str, str]
) -> DataQuery:
    if context not in CONTEXTS:
        raise QuerySyntaxError(
            "context", context, "dataflow, datastructure, provisionagreement or *"
        )
    agencies = None if agency in ("*", "all") else tuple(agency.split(","))
    ids = None if ident in ("*", "all") else tuple(ident.split(","))
    for value in (*(agencies or ()), *(ids or ())):
        if not _ID.fullmatch(value):
            raise QuerySyntaxError("agencyID/resourceID", value, "ids separated by ','")
    keys = None
    if key not in (None, "", "*", "all"):
        keys = tuple(_split_key(k, "", "*") for k in key.split(","))
    filters = []
    start = end = None
    for name, value in params.items():
        match = re.fullmatch(r"c\[(.+)\]", name)
        if match:
            filters.append(parse_filter(match[1], value))
    return DataQuery(
        api="v2",
        context=context,
        agencies=agencies,
        ids=ids,
        versions=parse_versions(version, "v2"),
        keys=keys,
        filters=tuple(filters),
        start_period=start,
        end_period=end,
        as_of=parse_time("asOf", params.get("asOf")),
        attributes=_list_param(
            params.get("attributes"),
            "dsd",
            ("dsd", "msd", "dataset", "series", "obs", "all", "none"),
        ),
        measures=_list_param(params.get("measures"), "all", ("all", "none")),
        offset=parse_positive("offset", params.get("offset"), 0) or 0,
        limit=parse_positive("limit", params.get("limit")),
        sort=parse_sort(params.get("sort")),
        **parse_common(params, "v2"),
    )
