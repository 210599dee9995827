"""Which config values a secret manager answers, how they are read at start and refreshed, and how a
rotated one reaches the served deployments."""

from __future__ import annotations

import datetime
import json
import ssl

import httpx
import pytest
from structlog.testing import capture_logs

from adapters.config.loader import load_config
from adapters.config.secrets import DEFAULT_REFRESH_INTERVAL, secret_plan
from adapters.secrets import open_secret_store
from adapters.secrets.values import SecretValues
from application.catalog import ModelCatalog
from application.models import ModelRegistry
from bootstrap import record_parser
from domain.errors import ConfigurationError
from tests.e2e.secret_store_fakes import FakeSecretStore


def _tree(**settings: object) -> dict:
    return {
        "model_list": [
            {"model_name": "a", "litellm_params": {"model": "openai/a", "api_key": "os.environ/OPENAI_KEY"}},
            {"model_name": "b", "litellm_params": {"model": "openai/b", "api_key": "os.environ/OPENAI_KEY",
                                                   "api_base": "os.environ/B_BASE"}},
        ],
        "general_settings": {"master_key": "os.environ/MASTER", "key_management_system": "hashicorp_vault",
                             **settings},
    }  # fmt: skip


def test_a_config_without_a_secret_manager_has_no_plan() -> None:
    assert secret_plan({"model_list": []}, {}) is None


def test_each_referenced_name_is_read_once_and_named_by_where_it_first_appears() -> None:
    plan = secret_plan(_tree(), {})
    assert plan is not None and plan.system == "hashicorp_vault"
    assert plan.references == {
        "OPENAI_KEY": "model_list[0].litellm_params.api_key",
        "B_BASE": "model_list[1].litellm_params.api_base",
        "MASTER": "general_settings.master_key",
    }
    assert plan.refresh_interval == DEFAULT_REFRESH_INTERVAL


def test_hosted_keys_limit_what_is_read_from_the_store() -> None:
    plan = secret_plan(_tree(key_management_settings={"hosted_keys": ["MASTER"]}), {})
    assert plan is not None and list(plan.references) == ["MASTER"]


def test_a_write_only_store_reads_nothing() -> None:
    assert secret_plan(_tree(key_management_settings={"access_mode": "write_only"}), {}) is None


def test_the_stores_own_settings_never_come_from_the_store() -> None:
    tree = {
        "general_settings": {"key_management_system": "hashicorp_vault", "x": "os.environ/HCP_VAULT_TOKEN"}
    }
    plan = secret_plan(tree, {})
    assert plan is not None and plan.references == {}


def test_an_unknown_store_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'hashicorp_vault'") as raised:
        secret_plan({"general_settings": {"key_management_system": "hashicorp_vualt"}}, {})
    assert raised.value.path == "general_settings.key_management_system"


def test_the_stores_own_refresh_interval_comes_before_the_generic_one() -> None:
    environ = {"HCP_VAULT_REFRESH_INTERVAL": "30", "SECRET_MANAGER_REFRESH_INTERVAL": "60"}
    assert secret_plan(_tree(), environ).refresh_interval == 30.0  # type: ignore[union-attr]
    assert secret_plan(_tree(), {"SECRET_MANAGER_REFRESH_INTERVAL": "60"}).refresh_interval == 60.0  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError, match="HCP_VAULT_REFRESH_INTERVAL"):
        secret_plan(_tree(), {"HCP_VAULT_REFRESH_INTERVAL": "soon"})


def test_the_secret_manager_settings_are_known_keys_of_the_config() -> None:
    config = load_config(_tree(key_management_settings={"hosted_keys": ["MASTER"]}), {"MASTER": "sk-m"})
    assert config.ignored == ()
    assert config.secret_store is not None and config.secret_store.system == "hashicorp_vault"


async def test_a_secret_that_cannot_be_read_at_start_names_the_reference_and_the_store_only() -> None:
    store = FakeSecretStore({"OPENAI_KEY": "sk-open"})
    store.down = True
    references = {"OPENAI_KEY": "model_list[0].litellm_params.api_key"}
    with pytest.raises(ConfigurationError) as raised:
        await SecretValues(store, references, {}).load()
    assert raised.value.path == "model_list[0].litellm_params.api_key"
    assert "os.environ/OPENAI_KEY" in str(raised.value) and "fake" in str(raised.value)
    assert "sk-open" not in str(raised.value)


async def test_a_secret_the_store_lacks_falls_back_to_the_environment_as_in_litellm() -> None:
    store = FakeSecretStore({"A": "from-store"})
    values = await SecretValues(store, {"A": "x", "B": "y"}, {"B": "from-env"}).load()
    assert values == {"A": "from-store"}
    with pytest.raises(ConfigurationError, match=r"os\.environ/B"):
        await SecretValues(store, {"A": "x", "B": "y"}, {}).load()


async def test_a_refresh_outage_keeps_the_last_values_and_is_logged_once() -> None:
    store = FakeSecretStore({"A": "one"})
    values = SecretValues(store, {"A": "x"}, {})
    await values.load()
    store.values["A"] = "two"
    store.down = True
    with capture_logs() as logs:
        assert not await values.refresh()
        assert not await values.refresh()
    assert values.values == {"A": "one"}
    assert [entry["event"] for entry in logs] == ["secret refresh failed; keeping its last value"]
    assert "two" not in str(logs)
    store.down = False
    assert await values.refresh()
    assert values.values == {"A": "two"}


def test_reconfigured_deployments_are_served_in_place_of_the_old() -> None:
    def config(key: str):
        return load_config(_tree(), {"OPENAI_KEY": key, "B_BASE": "http://b", "MASTER": "m"})

    first = config("sk-first")
    catalog = ModelCatalog(deployments=first.deployments)
    registry = ModelRegistry(
        uow=lambda: None,  # type: ignore[arg-type, return-value]
        clock=None,  # type: ignore[arg-type]
        configured=first.deployments,
        parse=record_parser(first),
        activate=catalog.replace,
    )
    second = config("sk-second")
    registry.reconfigure(second.deployments, record_parser(second))
    served = catalog.group("a").deployments[0]
    assert served.credentials.api_key is not None and served.credentials.api_key.value == "sk-second"
    assert served.id == first.deployments[0].id


async def test_vault_logs_in_with_the_client_certificate_and_its_role(tmp_path) -> None:
    cert, key = _self_signed(tmp_path)
    seen: list[httpx.Request] = []

    def vault(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/auth/cert/login":
            return httpx.Response(200, json={"auth": {"client_token": "hvs.cert", "lease_duration": 60}})
        return httpx.Response(200, json={"data": {"data": {"key": "sk-vault"}}})

    options: dict = {}

    def clients(**given: object) -> httpx.AsyncClient:
        options.update(given)
        return httpx.AsyncClient(transport=httpx.MockTransport(vault))

    environ = {
        "HCP_VAULT_ADDR": "https://vault.test:8200",
        "HCP_VAULT_CLIENT_CERT": cert,
        "HCP_VAULT_CLIENT_KEY": key,
        "HCP_VAULT_CERT_ROLE": "web",
        "HCP_VAULT_NAMESPACE": "admin",
    }
    store = open_secret_store("hashicorp_vault", {}, environ, clients)
    assert await store.read("OPENAI_KEY") == "sk-vault"
    await store.aclose()
    login, read = seen
    assert json.loads(login.content) == {"name": "web"} and login.headers["x-vault-namespace"] == "admin"
    assert str(read.url) == "https://vault.test:8200/v1/admin/secret/data/OPENAI_KEY"
    assert read.headers["x-vault-token"] == "hvs.cert"
    assert isinstance(options["verify"], ssl.SSLContext)


def _self_signed(directory) -> tuple[str, str]:
    """A client certificate and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "switchyard")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "client.pem", directory / "client.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)
