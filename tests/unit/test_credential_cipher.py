"""Stored credentials' encryption: the AES-GCM cipher and the sealing of a deployment row's credentials."""

from __future__ import annotations

import base64

import pytest

from adapters.crypto.aes_gcm_cipher import PREFIX, AesGcmCredentialCipher
from adapters.crypto.lazy import LazyCredentialCipher
from adapters.persistence.credentials import CredentialColumns
from ports.credential_cipher import CredentialUnreadable, is_sealed

CONTEXT = "deployments/m1/litellm_params.api_key"
cipher = AesGcmCredentialCipher("salt-key-one")


def _flipped(sealed: str, position: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(sealed.removeprefix(PREFIX)))
    raw[position] ^= 1
    return PREFIX + base64.urlsafe_b64encode(bytes(raw)).decode()


def test_a_sealed_credential_opens_again_and_never_shows_the_value() -> None:
    sealed = cipher.encrypt("sk-upstream-secret", CONTEXT)

    assert is_sealed(sealed) and sealed.startswith("switchyard:v1:")
    assert "sk-upstream-secret" not in sealed
    assert cipher.decrypt(sealed, CONTEXT) == "sk-upstream-secret"


def test_the_same_credential_seals_differently_each_time() -> None:
    assert cipher.encrypt("sk-x", CONTEXT) != cipher.encrypt("sk-x", CONTEXT)


@pytest.mark.parametrize("position", [0, 12, -1], ids=["nonce", "ciphertext", "tag"])
def test_an_altered_credential_is_detected(position: int) -> None:
    sealed = cipher.encrypt("sk-upstream-secret", CONTEXT)

    with pytest.raises(CredentialUnreadable, match="another salt key, or altered"):
        cipher.decrypt(_flipped(sealed, position), CONTEXT)


def test_another_key_cannot_open_it_and_the_error_holds_no_value() -> None:
    sealed = cipher.encrypt("sk-upstream-secret", CONTEXT)

    with pytest.raises(CredentialUnreadable) as raised:
        AesGcmCredentialCipher("salt-key-two").decrypt(sealed, CONTEXT)

    assert "sk-upstream-secret" not in str(raised.value) and CONTEXT in str(raised.value)


def test_a_credential_moved_to_another_model_or_field_does_not_open() -> None:
    sealed = cipher.encrypt("sk-upstream-secret", CONTEXT)

    with pytest.raises(CredentialUnreadable):
        cipher.decrypt(sealed, "deployments/m2/litellm_params.api_key")


@pytest.mark.parametrize(
    "text", ["sk-plain", PREFIX + "!!not base64!!", PREFIX + "AAAA", "switchyard:v9:AAAA"]
)
def test_text_not_sealed_by_this_format_is_unreadable(text: str) -> None:
    with pytest.raises(CredentialUnreadable):
        cipher.decrypt(text, CONTEXT)


def test_an_empty_salt_key_is_refused() -> None:
    with pytest.raises(ValueError):
        AesGcmCredentialCipher("")


# --- a deployment row's credentials --------------------------------------------------------------------

PARAMS = {
    "model": "vertex_ai/gemini-2.0-flash",
    "api_base": "https://example.test",
    "api_key": "sk-upstream-secret",
    "vertex_credentials": {"type": "service_account", "private_key": "-----BEGIN"},
    "aws_session_token": None,
    "rpm": 5,
}


def _row(params: dict[str, object]) -> dict[str, object]:
    return {"model_id": "m1", "model_name": "gpt-x", "litellm_params": params}


def test_only_the_credential_params_are_sealed_and_they_read_back_with_their_type() -> None:
    columns = CredentialColumns(cipher)

    stored = columns.sealed_row(_row(PARAMS))["litellm_params"]
    opened = columns.opened_row(_row(stored))

    assert is_sealed(stored["api_key"]) and is_sealed(stored["vertex_credentials"])
    assert {k: v for k, v in stored.items() if k not in ("api_key", "vertex_credentials")} == {
        "model": "vertex_ai/gemini-2.0-flash",
        "api_base": "https://example.test",
        "aws_session_token": None,
        "rpm": 5,
    }
    assert opened["litellm_params"] == PARAMS and opened["unreadable"] == ()


def test_credentials_kept_in_plain_text_before_are_read_as_they_are() -> None:
    opened = CredentialColumns(cipher).opened_row(_row(PARAMS))

    assert opened["litellm_params"] == PARAMS and opened["unreadable"] == ()


def test_credentials_sealed_under_another_key_are_left_out_and_named() -> None:
    stored = CredentialColumns(AesGcmCredentialCipher("old-key")).sealed_row(_row(PARAMS))["litellm_params"]

    opened = CredentialColumns(cipher).opened_row(_row(stored))

    assert opened["unreadable"] == ("api_key", "vertex_credentials")
    assert "api_key" not in opened["litellm_params"] and opened["litellm_params"]["rpm"] == 5


def test_without_a_key_credentials_are_kept_as_given_and_sealed_ones_cannot_be_read() -> None:
    columns = CredentialColumns(None)
    sealed = CredentialColumns(cipher).sealed_row(_row(PARAMS))["litellm_params"]

    assert columns.sealed_row(_row(PARAMS))["litellm_params"] == PARAMS
    assert columns.opened_row(_row(sealed))["unreadable"] == ("api_key", "vertex_credentials")


def test_the_lazy_cipher_seals_and_opens_as_the_one_it_loads_on_first_use() -> None:
    lazy = LazyCredentialCipher("salt-key-one")
    assert lazy._cipher is None  # nothing of `cryptography` is needed until a credential is touched

    assert cipher.decrypt(lazy.encrypt("sk-live", CONTEXT), CONTEXT) == "sk-live"
    assert lazy.decrypt(cipher.encrypt("sk-live", CONTEXT), CONTEXT) == "sk-live"
    with pytest.raises(ValueError):
        LazyCredentialCipher("")
