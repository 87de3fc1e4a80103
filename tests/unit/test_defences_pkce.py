"""The PKCE verifier is fresh CSPRNG output each time (a fixed verifier would make S256 useless)."""

from __future__ import annotations

from coder_jupyter._oauth import pkce


def test_the_verifier_is_made_from_the_injected_random_bytes() -> None:
    assert pkce.make_verifier(lambda n: b"\0" * n) == "A" * pkce.VERIFIER_LENGTH
    assert pkce.make_verifier(lambda n: b"\xff" * n) == "_" * pkce.VERIFIER_LENGTH


def test_every_default_verifier_is_different() -> None:
    verifiers = {pkce.make_verifier() for _ in range(8)}
    assert len(verifiers) == 8
    assert all(pkce.is_valid_verifier(v) for v in verifiers)
