"""Format-independent validation of data messages: findings, time periods, checks, the validator.

Sees only the reader's events (app.model.data) and a CompiledFlow (app.model.dsd); never XML, CSV or
the database.
"""

from app.validation.findings import Finding, Findings, Location
from app.validation.periods import PeriodError, frequency_matches, period_range
from app.validation.validator import Validator

__all__ = [
    "Finding",
    "Findings",
    "Location",
    "PeriodError",
    "Validator",
    "frequency_matches",
    "period_range",
]
