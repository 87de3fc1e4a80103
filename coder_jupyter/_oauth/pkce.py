"""PKCE (RFC 7636) and ``state`` values: random strings from a CSPRNG, and the S256 challenge.

Randomness is injected (``token_bytes``) so tests can pin it; the default is
:func:`secrets.token_bytes`, a CSPRNG. Nothing here touches the network or the disk.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable

__all__ = [
    "VERIFIER_LENGTH",
    "is_valid_verifier",
    "make_state",
    "make_verifier",
    "s256_challenge",
]

TokenBytes = Callable[[int], bytes]

#: Length of the verifiers we make: RFC 7636 §4.1 allows 43–128 characters.
VERIFIER_LENGTH = 64

_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def make_verifier(token_bytes: TokenBytes = secrets.token_bytes, *, length: int = VERIFIER_LENGTH) -> str:
    """A fresh ``code_verifier``: ``length`` base64url characters from a CSPRNG (RFC 7636 §4.1).

    Raises:
        ValueError: if ``length`` is outside 43–128.
    """
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code_verifier must be 43 to 128 characters long (RFC 7636 §4.1)")
    # 3 random bytes give 4 base64url characters; take a few extra and cut.
    return _b64url(token_bytes(length * 3 // 4 + 3))[:length]


def is_valid_verifier(verifier: str) -> bool:
    """True if ``verifier`` has the RFC 7636 §4.1 shape: 43–128 unreserved characters."""
    return _UNRESERVED.fullmatch(verifier) is not None


def s256_challenge(verifier: str) -> str:
    """``BASE64URL(SHA256(ASCII(code_verifier)))`` without padding (RFC 7636 §4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def make_state(token_bytes: TokenBytes = secrets.token_bytes) -> str:
    """A fresh ``state`` (RFC 6749 §10.12): 256 bits from a CSPRNG, base64url-encoded (43 characters)."""
    return _b64url(token_bytes(32))
