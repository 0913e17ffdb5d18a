"""The closed list of error codes: the README's table and the answers agree with `ErrorCode`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jwt_middleware import AuthError, ErrorCode, InvalidRequest, InvalidToken, KeysUnavailable, MissingToken
from jwt_middleware.errors import render

README = Path(__file__).parent.parent / "README.md"


def readme_table() -> dict[str, tuple[int, str | None]]:
    """code -> (status, RFC 6750 error) from the README's "How errors look" table."""
    table = README.read_text().split("## How errors look", 1)[1].split("\n\n| status |", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, tuple[int, str | None]] = {}
    for line in table.splitlines()[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not cells[0].isdigit():
            continue
        error = re.match(r"`(\w+)`", cells[1])
        for code in re.findall(r"`(\w+)`", cells[2]):
            rows[code] = (int(cells[0]), error.group(1) if error else None)
    return rows


def test_the_readme_table_lists_every_code_with_its_status_and_error() -> None:
    assert readme_table() == {code.value: (code.status, code.error) for code in ErrorCode}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_each_code_is_answered_as_declared(code: ErrorCode) -> None:
    refusal = code.refusal()
    assert isinstance(refusal, code.kind)
    assert (refusal.code, refusal.status_code, refusal.error) == (code, code.status, code.error)
    status, headers, body = render(refusal, "api")
    assert status == code.status
    assert f'"code":"{code.value}"'.encode() in body
    assert isinstance(headers, tuple)


def test_the_classes_fix_status_and_error() -> None:
    assert {(k.status_code, k.error) for k in (InvalidRequest, MissingToken, InvalidToken, KeysUnavailable)} == {
        (400, "invalid_request"),
        (401, None),
        (401, "invalid_token"),
        (503, None),
    }


def test_codes_are_a_closed_list_and_read_as_plain_strings() -> None:
    with pytest.raises(KeyError):
        AuthError("made_up_code")
    assert AuthError("token_expired").code is ErrorCode.TOKEN_EXPIRED
    assert f"{ErrorCode.TOKEN_EXPIRED}" == str(ErrorCode.TOKEN_EXPIRED) == "token_expired"
    lasting = {code.value for code in ErrorCode if code.lasting}
    assert "token_expired" in lasting
    assert lasting.isdisjoint({"signature_invalid", "key_not_found", "token_not_yet_valid", "token_revoked"})


def test_a_precise_description_replaces_the_generic_one() -> None:
    refusal = ErrorCode.CLAIM_MISSING.refusal("The token has no sub claim.")
    assert refusal.description == "The token has no sub claim."
    assert ErrorCode.CLAIM_MISSING.refusal().description == ErrorCode.CLAIM_MISSING.description
