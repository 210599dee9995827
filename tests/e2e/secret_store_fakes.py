"""Local fakes of the secret managers' HTTP APIs (HashiCorp Vault KV v2, AWS Secrets Manager, Azure Key
Vault, Google Secret Manager, Infisical), each answering as the real one does, checked by pointing the
vendor's own SDK at it (tests/contract/test_secret_store_sdks.py). Each holds `secrets` (name -> value,
changed in place to rotate one), refuses wrong credentials, and fails while `down` is set. Last, an
in-memory SecretStore for tests that need no HTTP."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from ports.secret_store import SecretStore, SecretUnavailable
from tests.e2e.fake_server import FakeHandler, FakeServer

VAULT_TOKEN = "hvs.static-token"
ROLE_ID, ROLE_SECRET = "role-1", "role-secret-1"
AWS_KEY_ID, AWS_SECRET = "AKIDSECRETSFAKE", "fake-aws-secret-key"
AZURE_TENANT, AZURE_CLIENT, AZURE_CLIENT_SECRET = "tenant-1", "client-1", "client-secret-1"
GOOGLE_PROJECT = "my-project"
INFISICAL_CLIENT, INFISICAL_CLIENT_SECRET, INFISICAL_PROJECT = "identity-1", "identity-secret-1", "project-1"


class SecretFake(FakeServer):
    """What every fake store shares: its secrets, its outage switch, the token it hands out."""

    token: ClassVar[str] = "access-token-1"
    outage: ClassVar[tuple[int, object]] = (503, {"message": "unavailable"})
    """The status and body of an answer while `down`."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}
        self.down = False

    def environment(self) -> dict[str, str]:
        """The variables that point Switchyard's adapter of this store here, with its credentials."""
        raise NotImplementedError


class SecretHandler(FakeHandler):
    server: SecretFake

    def query(self) -> dict[str, str]:
        return {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}

    def answered_outage(self) -> bool:
        """Answers the outage while the store is down; says whether it did."""
        if self.server.down:
            self.send_json(*self.server.outage)  # type: ignore[arg-type]
        return self.server.down

    def bearer(self) -> bool:
        return self.headers.get("authorization") == f"Bearer {self.server.token}"


class _VaultHandler(SecretHandler):
    """KV v2 (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version): the
    namespace in the path or the X-Vault-Namespace header, the value under data.data.key."""

    server: FakeVault

    def do_GET(self) -> None:
        self.record(None)
        if self.answered_outage():
            return
        if self.headers.get("x-vault-token") not in (VAULT_TOKEN, self.server.token):
            return self.send_json(403, {"errors": ["permission denied"]})
        path = urlsplit(self.path).path.removeprefix("/v1/")
        namespace = self.server.namespace
        if namespace and self.headers.get("x-vault-namespace", "").strip("/") != namespace:
            path = path.removeprefix(f"{namespace}/")
        name = unquote(path.removeprefix("secret/data/"))
        if name not in self.server.secrets:
            return self.send_json(404, {"errors": []})
        data = {
            "data": {"key": self.server.secrets[name]},
            "metadata": {
                "created_time": "2026-01-01T00:00:00Z",
                "custom_metadata": None,
                "deletion_time": "",
                "destroyed": False,
                "version": 1,
            },
        }
        self.send_json(
            200,
            {
                "request_id": str(uuid.uuid4()),
                "lease_id": "",
                "renewable": False,
                "lease_duration": 0,
                "data": data,
                "wrap_info": None,
                "warnings": None,
                "auth": None,
                "mount_type": "kv",
            },
        )

    def do_POST(self) -> None:
        body = json.loads(self.read_body() or b"{}")
        self.record(body)
        if self.answered_outage():
            return
        if self.path != "/v1/auth/approle/login" or body != {"role_id": ROLE_ID, "secret_id": ROLE_SECRET}:
            return self.send_json(400, {"errors": ["invalid role or secret ID"]})
        auth = {
            "client_token": self.server.token,
            "accessor": "a",
            "policies": ["default"],
            "lease_duration": 3600,
            "renewable": True,
        }
        self.send_json(200, {"request_id": str(uuid.uuid4()), "auth": auth, "data": None})


class FakeVault(SecretFake):
    handler = _VaultHandler
    token = "hvs.approle-token"
    outage = (503, {"errors": ["Vault is sealed"]})

    def __init__(self, namespace: str | None = None) -> None:
        super().__init__()
        self.namespace = namespace

    def environment(self) -> dict[str, str]:
        """An AppRole login, in the fake's namespace."""
        return {
            "HCP_VAULT_ADDR": self.root,
            "HCP_VAULT_APPROLE_ROLE_ID": ROLE_ID,
            "HCP_VAULT_APPROLE_SECRET_ID": ROLE_SECRET,
            **({"HCP_VAULT_NAMESPACE": self.namespace} if self.namespace else {}),
        }


_AWS_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
    r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})"
)


class _SecretsManagerHandler(SecretHandler):
    """GetSecretValue (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html),
    its SigV4 signature checked by botocore's own signer."""

    server: FakeSecretsManager
    json_type = "application/x-amz-json-1.1"

    def do_POST(self) -> None:
        raw = self.read_body()
        body = json.loads(raw)
        self.record(body)
        if self.answered_outage():
            return
        if self.headers.get("x-amz-target") != "secretsmanager.GetSecretValue":
            return self.send_json(400, {"__type": "UnknownOperationException"})
        if not self._signed(raw):
            return self.send_json(
                400,
                {
                    "__type": "InvalidSignatureException",
                    "message": "The request signature we calculated does not match.",
                },
            )
        name = body.get("SecretId")
        if name not in self.server.secrets:
            return self.send_json(
                400,
                {
                    "__type": "ResourceNotFoundException",
                    "Message": "Secrets Manager can't find the specified secret.",
                },
            )
        self.send_json(
            200,
            {
                "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf",
                "Name": name,
                "VersionId": str(uuid.uuid4()),
                "VersionStages": ["AWSCURRENT"],
                "SecretString": self.server.secrets[name],
                "CreatedDate": 1.7e9,
            },
        )

    def _signed(self, body: bytes) -> bool:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        found = _AWS_AUTH.fullmatch(self.headers.get("authorization", ""))
        if found is None or found[1] != AWS_KEY_ID or found[4] != "secretsmanager":
            return False
        headers = {name: self.headers[name] for name in found[5].split(";")}
        request = AWSRequest(method="POST", url=self.server.root + self.path, data=body, headers=headers)
        request.context["timestamp"] = self.headers["x-amz-date"]
        signer = SigV4Auth(Credentials(AWS_KEY_ID, AWS_SECRET), "secretsmanager", found[3])
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
        return expected == found[6]


class FakeSecretsManager(SecretFake):
    handler = _SecretsManagerHandler
    outage = (500, {"__type": "InternalServiceError", "Message": "An error occurred on the server side."})

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.root,
            "AWS_REGION_NAME": "us-east-1",
            "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        }


class _KeyVaultHandler(SecretHandler):
    """Get Secret (https://learn.microsoft.com/en-us/rest/api/keyvault/secrets/get-secret/get-secret), with
    the bearer challenge the Azure SDK starts from, and the Entra ID token endpoint."""

    server: FakeKeyVault

    def do_GET(self) -> None:
        self.record(None, query=self.query())
        if self.answered_outage():
            return
        if not self.bearer():
            challenge = f'Bearer authorization="{self.server.root}/{AZURE_TENANT}", resource="https://vault.azure.net"'
            return self.send_json(
                401,
                {
                    "error": {
                        "code": "Unauthorized",
                        "message": "AKV10000: Request is missing a Bearer or PoP token.",
                    }
                },
                {"www-authenticate": challenge},
            )
        if "api-version" not in self.query():
            return self.send_json(
                400, {"error": {"code": "BadParameter", "message": "api-version is missing"}}
            )
        name = unquote(urlsplit(self.path).path.removeprefix("/secrets/").rstrip("/"))
        if name not in self.server.secrets:
            return self.send_json(
                404,
                {
                    "error": {
                        "code": "SecretNotFound",
                        "message": f"A secret with (name/id) {name} was not found in this key vault.",
                    }
                },
            )
        self.send_json(
            200,
            {
                "value": self.server.secrets[name],
                "id": f"{self.server.root}/secrets/{name}/0a1b",
                "attributes": {
                    "enabled": True,
                    "created": 1700000000,
                    "updated": 1700000000,
                    "recoveryLevel": "Recoverable+Purgeable",
                },
                "tags": {},
            },
        )

    def do_POST(self) -> None:
        form = {name: values[0] for name, values in parse_qs(self.read_body().decode()).items()}
        self.record(form)
        expected = {
            "grant_type": "client_credentials",
            "client_id": AZURE_CLIENT,
            "client_secret": AZURE_CLIENT_SECRET,
            "scope": "https://vault.azure.net/.default",
        }
        if self.path != f"/{AZURE_TENANT}/oauth2/v2.0/token" or form != expected:
            return self.send_json(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
            )
        self.send_json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": self.server.token,
            },
        )


class FakeKeyVault(SecretFake):
    handler = _KeyVaultHandler
    outage = (503, {"error": {"code": "ServiceUnavailable", "message": "The service is unavailable."}})

    def environment(self) -> dict[str, str]:
        """Entra ID's token endpoint is this fake too."""
        return {
            "AZURE_KEY_VAULT_URI": self.root,
            "AZURE_AUTHORITY_HOST": self.root,
            "AZURE_TENANT_ID": AZURE_TENANT,
            "AZURE_CLIENT_ID": AZURE_CLIENT,
            "AZURE_CLIENT_SECRET": AZURE_CLIENT_SECRET,
        }


class _GoogleHandler(SecretHandler):
    """versions.access over REST (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access)
    and the OAuth token endpoint a refresh token is exchanged at."""

    server: FakeGoogleSecretManager
    _ACCESS = re.compile(r"/v1/projects/([^/]+)/secrets/([^/]+)/versions/latest:access")

    def do_GET(self) -> None:
        self.record(None)
        if self.answered_outage():
            return
        if not self.bearer():
            return self.send_json(
                401,
                {
                    "error": {
                        "code": 401,
                        "status": "UNAUTHENTICATED",
                        "message": "Request had invalid authentication credentials.",
                    }
                },
            )
        found = self._ACCESS.fullmatch(urlsplit(self.path).path)
        name = unquote(found[2]) if found and found[1] == GOOGLE_PROJECT else None
        if name not in self.server.secrets:
            return self.send_json(
                404,
                {
                    "error": {
                        "code": 404,
                        "status": "NOT_FOUND",
                        "message": f"Secret [projects/123/secrets/{name}] not found or has no versions.",
                    }
                },
            )
        data = base64.b64encode(self.server.secrets[name].encode()).decode()
        self.send_json(200, {"name": f"projects/123/secrets/{name}/versions/1", "payload": {"data": data}})

    def do_POST(self) -> None:
        form = {name: values[0] for name, values in parse_qs(self.read_body().decode()).items()}
        self.record(form)
        if self.path != "/token" or form.get("refresh_token") != "refresh-1":
            return self.send_json(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        self.send_json(200, {"access_token": self.server.token, "expires_in": 3599, "token_type": "Bearer"})


class FakeGoogleSecretManager(SecretFake):
    handler = _GoogleHandler
    outage = (
        503,
        {"error": {"code": 503, "status": "UNAVAILABLE", "message": "The service is unavailable."}},
    )

    def environment(self) -> dict[str, str]:
        """gcloud's user credentials (`authorized_user`), exchanged at this fake's token endpoint."""
        credentials = {
            "type": "authorized_user",
            "client_id": "c",
            "client_secret": "s",
            "refresh_token": "refresh-1",
            "token_uri": f"{self.root}/token",
        }
        return {
            "GOOGLE_SECRET_MANAGER_PROJECT_ID": GOOGLE_PROJECT,
            "GOOGLE_SECRET_MANAGER_ENDPOINT": self.root,
            "GOOGLE_APPLICATION_CREDENTIALS": json.dumps(credentials),
        }


class _InfisicalHandler(SecretHandler):
    """Universal-auth login and the raw secret read Infisical's SDKs use."""

    server: FakeInfisical

    def do_GET(self) -> None:
        query = self.query()
        self.record(None, query=query)
        if self.answered_outage():
            return
        if not self.bearer():
            return self.send_json(
                401, {"statusCode": 401, "message": "Invalid token", "error": "Unauthorized"}
            )
        name = unquote(urlsplit(self.path).path.removeprefix("/api/v3/secrets/raw/"))
        where = (query.get("workspaceId"), query.get("environment"), query.get("secretPath"))
        if where != (INFISICAL_PROJECT, "dev", "/") or name not in self.server.secrets:
            return self.send_json(
                404,
                {"statusCode": 404, "message": f"Secret with name '{name}' not found", "error": "NotFound"},
            )
        self.send_json(
            200,
            {
                "secret": {
                    "id": str(uuid.uuid4()),
                    "workspace": INFISICAL_PROJECT,
                    "version": 1,
                    "environment": "dev",
                    "type": "shared",
                    "secretKey": name,
                    "secretValue": self.server.secrets[name],
                    "secretComment": "",
                }
            },
        )

    def do_POST(self) -> None:
        body = json.loads(self.read_body() or b"{}")
        self.record(body)
        if self.answered_outage():
            return
        expected = {"clientId": INFISICAL_CLIENT, "clientSecret": INFISICAL_CLIENT_SECRET}
        if self.path != "/api/v1/auth/universal-auth/login" or body != expected:
            return self.send_json(
                401, {"statusCode": 401, "message": "Invalid credentials", "error": "Unauthorized"}
            )
        self.send_json(
            200,
            {
                "accessToken": self.server.token,
                "expiresIn": 7200,
                "accessTokenMaxTTL": 43200,
                "tokenType": "Bearer",
            },
        )


class FakeInfisical(SecretFake):
    handler = _InfisicalHandler
    outage = (503, {"statusCode": 503, "message": "Service unavailable", "error": "ServiceUnavailable"})

    def environment(self) -> dict[str, str]:
        return {
            "INFISICAL_SITE_URL": self.root,
            "INFISICAL_CLIENT_ID": INFISICAL_CLIENT,
            "INFISICAL_CLIENT_SECRET": INFISICAL_CLIENT_SECRET,
            "INFISICAL_PROJECT_ID": INFISICAL_PROJECT,
        }


class FakeSecretStore(SecretStore):
    """An in-memory store: `values` changed in place to rotate a secret, `down` for an outage."""

    system = "fake"

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.down = False
        self.reads: list[str] = []

    async def read(self, name: str) -> str:
        self.reads.append(name)
        if self.down:
            raise SecretUnavailable(name, self.system, "unreachable")
        if name not in self.values:
            raise SecretUnavailable(name, self.system, "no such secret", missing=True)
        return self.values[name]
