"""What a principal may do: its grants (from the `grants` table) and the restricted dataflows.

A grant is (grantee, dataflow pattern, action). Grantees: `user:NAME`, `group:NAME`,
`role:ROLE` (`anonymous` for requests without a token). Patterns are matched against a
dataflow's `AGENCY:ID(VERSION)` and, without the version, `AGENCY:ID` (fnmatch: `*`, `DSM:DF_*`).

Actions: `read` (public values of a dataflow), `read_confidential` (values whose CONF_STATUS is
not F, and restricted dataflows), `read_embargoed` (versions before their release time),
`write` (submit data, within the provider's provision agreements), `admin` (all of these on
the dataflows it names). The `admin` role may do everything everywhere.
"""

from dataclasses import dataclass
from fnmatch import fnmatchcase

from app.auth.tokens import Principal

ACTIONS = ("read", "read_confidential", "read_embargoed", "write", "admin")
# an action also grants the weaker ones listed here
_IMPLIES = {
    "admin": frozenset(ACTIONS),
    "read_confidential": frozenset({"read_confidential", "read"}),
    "read_embargoed": frozenset({"read_embargoed", "read"}),
}


def grantees(principal: Principal | None) -> list[str]:
    """The grantee names a principal acts as."""
    if principal is None:
        return ["role:anonymous"]
    return [
        f"user:{principal.name}",
        f"role:{principal.role}",
        *(f"group:{g}" for g in principal.groups),
    ]


def matches(pattern: str, flow_ref: str) -> bool:
    return fnmatchcase(flow_ref, pattern) or fnmatchcase(flow_ref.partition("(")[0], pattern)


@dataclass(frozen=True)
class Access:
    principal: Principal | None
    rules: tuple[tuple[str, str], ...]  # (dataflow pattern, action)
    restricted: tuple[str, ...]  # dataflow patterns
    generation: int = 0  # of the in-memory grants it was read from (`Grants.generation`)

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.is_admin

    def allows(self, action: str, flow_ref: str) -> bool:
        if self.is_admin:
            return True
        return any(
            action in _IMPLIES.get(granted, {granted}) and matches(pattern, flow_ref)
            for pattern, granted in self.rules
        )

    def is_restricted(self, flow_ref: str) -> bool:
        return any(matches(pattern, flow_ref) for pattern in self.restricted)

    def sees(self, flow_ref: str) -> bool:
        """Whether the dataflow exists at all for this principal (a restricted dataflow does
        not, without read_confidential)."""
        return not self.is_restricted(flow_ref) or self.allows("read_confidential", flow_ref)
