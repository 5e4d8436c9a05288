"""The QA admin APIs' bearer check, shared by the registry and the collector."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException

from ephoto.httpguard import require_bearer


def test_the_right_token_passes():
    require_bearer("Bearer s3cret", "s3cret")
    require_bearer("bearer s3cret", "s3cret")


@pytest.mark.parametrize(
    ("authorization", "token"),
    [
        (None, "s3cret"),
        ("Bearer wrong", "s3cret"),
        ("Basic s3cret", "s3cret"),
        ("s3cret", "s3cret"),
        ("Bearer ", ""),  # no token configured: nobody gets in, not even with an empty one
        ("Bearer ", None),
    ],
)
def test_anything_else_is_401_with_the_scheme_to_use(authorization, token):
    with pytest.raises(HTTPException) as refused:
        require_bearer(authorization, token)
    assert refused.value.status_code == 401
    assert refused.value.headers == {"WWW-Authenticate": "Bearer"}
