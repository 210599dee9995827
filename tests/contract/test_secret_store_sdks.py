"""Each fake secret store speaks its vendor's wire format: the vendor's own SDK, pointed at the fake,
reads a secret from it and recognises a missing one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e import secret_store_fakes as fakes


@pytest.fixture
def vault() -> Iterator[fakes.FakeVault]:
    with fakes.FakeVault(namespace="admin") as fake:
        fake.secrets["OPENAI_API_KEY"] = "sk-vault"
        yield fake


def test_hvac_reads_the_fake_vault_with_a_token_and_after_an_approle_login(vault: fakes.FakeVault) -> None:
    import hvac

    client = hvac.Client(url=vault.root, token=fakes.VAULT_TOKEN, namespace="admin")
    answer = client.secrets.kv.v2.read_secret_version(path="OPENAI_API_KEY", raise_on_deleted_version=True)
    assert answer["data"]["data"]["key"] == "sk-vault"

    by_role = hvac.Client(url=vault.root, namespace="admin")
    by_role.auth.approle.login(role_id=fakes.ROLE_ID, secret_id=fakes.ROLE_SECRET)
    assert by_role.token == vault.token
    answer = by_role.secrets.kv.v2.read_secret_version(path="OPENAI_API_KEY", raise_on_deleted_version=True)
    assert answer["data"]["data"]["key"] == "sk-vault"
    with pytest.raises(hvac.exceptions.InvalidPath):
        by_role.secrets.kv.v2.read_secret_version(path="MISSING", raise_on_deleted_version=True)


def test_boto3_reads_the_fake_secrets_manager_whose_signature_check_is_botocores() -> None:
    import boto3

    with fakes.FakeSecretsManager() as fake:
        fake.secrets["OPENAI_API_KEY"] = "sk-aws"
        client = boto3.client(
            "secretsmanager",
            endpoint_url=fake.root,
            region_name="us-east-1",
            aws_access_key_id=fakes.AWS_KEY_ID,
            aws_secret_access_key=fakes.AWS_SECRET,
        )
        assert client.get_secret_value(SecretId="OPENAI_API_KEY")["SecretString"] == "sk-aws"
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.get_secret_value(SecretId="MISSING")
        wrong = boto3.client(
            "secretsmanager",
            endpoint_url=fake.root,
            region_name="us-east-1",
            aws_access_key_id=fakes.AWS_KEY_ID,
            aws_secret_access_key="not-the-secret",
        )
        with pytest.raises(wrong.exceptions.ClientError, match="InvalidSignatureException"):
            wrong.get_secret_value(SecretId="OPENAI_API_KEY")


class _StaticCredential:
    """An azure-core TokenCredential handing out the fake vault's token."""

    def __init__(self, token: str) -> None:
        self._token = token
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **_: object) -> object:
        from azure.core.credentials import AccessToken

        self.scopes.extend(scopes)
        return AccessToken(self._token, int(time.time()) + 3600)


def test_azure_keyvault_secrets_reads_the_fake_key_vault_after_its_challenge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.keyvault.secrets import SecretClient
    from azure.keyvault.secrets._shared import challenge_auth_policy

    # The SDK refuses to send a token over plain HTTP, which is all the local fake speaks.
    monkeypatch.setattr(challenge_auth_policy, "_enforce_tls", lambda request: None)

    with fakes.FakeKeyVault() as fake:
        fake.secrets["AZURE-API-KEY"] = "sk-azure"
        credential = _StaticCredential(fake.token)
        client = SecretClient(fake.root, credential, verify_challenge_resource=False)  # type: ignore[arg-type]
        assert client.get_secret("AZURE-API-KEY").value == "sk-azure"
        assert credential.scopes == ["https://vault.azure.net/.default"]
        with pytest.raises(ResourceNotFoundError):
            client.get_secret("MISSING")


def test_google_cloud_secret_manager_reads_the_fake_over_rest() -> None:
    from google.api_core.client_options import ClientOptions
    from google.api_core.exceptions import NotFound
    from google.cloud import secretmanager
    from google.oauth2.credentials import Credentials

    with fakes.FakeGoogleSecretManager() as fake:
        fake.secrets["OPENAI_API_KEY"] = "sk-google"
        client = secretmanager.SecretManagerServiceClient(
            credentials=Credentials(token=fake.token),
            transport="rest",
            client_options=ClientOptions(api_endpoint=fake.root),
        )
        name = f"projects/{fakes.GOOGLE_PROJECT}/secrets/OPENAI_API_KEY/versions/latest"
        assert client.access_secret_version(name=name).payload.data == b"sk-google"
        with pytest.raises(NotFound):
            client.access_secret_version(name=name.replace("OPENAI_API_KEY", "MISSING"))
