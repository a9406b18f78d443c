"""Passwords for people who sign in to the portal: argon2id through pwdlib, never stored or logged
in clear.

Checking the password of an unknown user still costs one argon2 verification (against a dummy
hash), so the time an answer takes does not tell which user names exist.
"""

from functools import cache

from pwdlib import PasswordHash
from pwdlib.exceptions import PwdlibError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps one request from costing much more

_hasher = PasswordHash.recommended()


def problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"A password may have at most {MAX_LENGTH} characters"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@cache
def _dummy() -> str:
    return _hasher.hash("dsm: no such user")


def verify(password: str, hashed: str | None) -> bool:
    """Whether `password` matches `hashed`; with no hash (unknown user, or a user without a
    password) it verifies against a dummy and says no."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
        hashed = None
    try:
        matches = _hasher.verify(password, hashed or _dummy())
    except PwdlibError:  # a hash pwdlib does not recognise (written by hand): no login
        return False
    return matches and hashed is not None
