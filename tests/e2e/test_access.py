"""Virtual keys, roles, JWT and rate limits through the real server, with the official `openai` client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import openai
import pytest

from tests import jwks
from tests.e2e.conftest import MASTER_KEY, clear_of_a_minute_boundary, running_gateway

pytestmark = pytest.mark.e2e
HI = [{"role": "user", "content": "Hi"}]
MODELS = [
    {"model_name": "demo", "litellm_params": {"model": "mock/demo"}},
    {"model_name": "demo-2", "litellm_params": {"model": "mock/demo-2"}},
]


class Admin:
    """The management API with the master key."""

    def __init__(self, url: str, key: str = MASTER_KEY) -> None:
        self.url = url
        self.key = key

    def post(self, path: str, body: dict) -> httpx.Response:
        return httpx.post(
            f"{self.url}{path}", json=body, headers={"Authorization": f"Bearer {self.key}"}, timeout=10
        )

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.key}"}, timeout=10
        )

    def new_key(self, **fields: object) -> str:
        answer = self.post("/key/generate", fields)
        assert answer.status_code == 200, answer.text
        return answer.json()["key"]


def client(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway's directory: its config, and the default SQLite database beside it."""
    return tmp_path_factory.mktemp("access")


@pytest.fixture(scope="module")
def gateway(home: Path) -> Iterator[str]:
    config = {"model_list": MODELS, "general_settings": {"master_key": MASTER_KEY}}
    with running_gateway(config, home) as url:
        yield url


def test_a_generated_key_works_and_is_stored_only_as_its_hash(gateway: str, home: Path) -> None:
    admin = Admin(gateway)
    answer = admin.post("/key/generate", {"models": ["demo"], "key_alias": "lifecycle", "duration": "1h"})
    assert answer.status_code == 200, answer.text
    generated = answer.json()
    key = generated["key"]
    assert key.startswith("sk-") and len(key) > 40
    assert generated["token"] != key and len(generated["token"]) == 64
    assert generated["expires"] is not None

    reply = client(gateway, key).chat.completions.create(model="demo", messages=HI)
    assert reply.choices[0].message.content

    info = admin.get("/key/info", key=key).json()
    assert info["info"]["models"] == ["demo"] and info["info"]["key_alias"] == "lifecycle"
    stored = b"".join(path.read_bytes() for path in home.glob("switchyard.db*"))
    assert generated["token"].encode() in stored
    assert key.encode() not in stored


def test_a_model_outside_the_keys_list_is_refused_with_403_naming_it(gateway: str) -> None:
    key = Admin(gateway).new_key(models=["demo"])
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client(gateway, key).chat.completions.create(model="demo-2", messages=HI)
    assert "demo-2" in refused.value.message
    listed = [m.id for m in client(gateway, key).models.list()]
    assert listed == ["demo"]


def test_unknown_and_malformed_keys_get_401(gateway: str) -> None:
    for key in ("sk-not-a-key", "garbage", "a.b.c"):
        with pytest.raises(openai.AuthenticationError):
            client(gateway, key).chat.completions.create(model="demo", messages=HI)


def test_blocking_and_unblocking_a_key(gateway: str) -> None:
    admin = Admin(gateway)
    key = admin.new_key()
    assert admin.post("/key/block", {"key": key}).status_code == 200
    with pytest.raises(openai.AuthenticationError, match="blocked"):
        client(gateway, key).chat.completions.create(model="demo", messages=HI)
    assert admin.post("/key/unblock", {"key": key}).status_code == 200
    assert client(gateway, key).chat.completions.create(model="demo", messages=HI).choices


def test_an_expired_key_gets_401(gateway: str) -> None:
    key = Admin(gateway).new_key(duration="1s")
    time.sleep(1.2)
    with pytest.raises(openai.AuthenticationError, match="expired"):
        client(gateway, key).chat.completions.create(model="demo", messages=HI)


def test_deleted_and_regenerated_keys_stop_working(gateway: str) -> None:
    admin = Admin(gateway)
    old = admin.new_key(key_alias="to-regenerate")
    regenerated = admin.post("/key/regenerate", {"key": old})
    assert regenerated.status_code == 200, regenerated.text
    new = regenerated.json()["key"]
    with pytest.raises(openai.AuthenticationError):
        client(gateway, old).chat.completions.create(model="demo", messages=HI)
    assert client(gateway, new).chat.completions.create(model="demo", messages=HI).choices
    assert admin.post("/key/delete", {"keys": [new]}).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        client(gateway, new).chat.completions.create(model="demo", messages=HI)


def test_an_rpm_limited_key_gets_429_with_retry_after_and_ratelimit_headers(gateway: str) -> None:
    key = Admin(gateway).new_key(rpm_limit=2)
    clear_of_a_minute_boundary()
    raw = client(gateway, key).chat.completions.with_raw_response.create(model="demo", messages=HI)
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    client(gateway, key).chat.completions.create(model="demo", messages=HI)
    with pytest.raises(openai.RateLimitError) as refused:
        client(gateway, key).chat.completions.create(model="demo", messages=HI)
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert "rpm" in refused.value.message


def test_an_internal_user_manages_only_their_own_keys(gateway: str) -> None:
    admin = Admin(gateway)
    created = admin.post(
        "/user/new", {"user_id": "e2e-alice", "user_role": "internal_user", "models": ["demo"]}
    )
    assert created.status_code == 200, created.text
    alice = Admin(gateway, created.json()["key"])
    others = admin.new_key(key_alias="not-alices")

    own = alice.post("/key/generate", {"models": ["demo"]})
    assert own.status_code == 200, own.text
    assert alice.post("/key/generate", {"user_id": "e2e-bob"}).status_code == 403
    assert alice.post("/key/generate", {"models": ["demo-2"]}).status_code == 403  # more than she holds
    assert alice.get("/key/info", key=others).status_code == 403
    assert alice.post("/team/new", {"team_alias": "nope"}).status_code == 403
    assert alice.post("/user/new", {"user_id": "e2e-mallory", "user_role": "proxy_admin"}).status_code == 403
    assert alice.get("/health").status_code == 403


def test_a_viewer_reads_but_cannot_write(gateway: str) -> None:
    admin = Admin(gateway)
    created = admin.post("/user/new", {"user_id": "e2e-viewer", "user_role": "proxy_admin_viewer"})
    viewer = Admin(gateway, created.json()["key"])
    assert viewer.get("/key/list").status_code == 200
    assert viewer.post("/key/generate", {}).status_code == 403


class _JwksServer:
    def __init__(self, document: dict) -> None:
        body = json.dumps(document).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_jwt_auth_with_a_local_jwks(tmp_path: Path) -> None:
    signing = jwks.rsa_key("e2e-rsa")
    endpoint = _JwksServer(jwks.jwks(signing))
    config = {
        "model_list": MODELS,
        "general_settings": {
            "master_key": MASTER_KEY,
            "enable_jwt_auth": True,
            "litellm_jwtauth": {
                "public_key_url": endpoint.url,
                "audience": jwks.AUDIENCE,
                "team_id_jwt_field": "team",
            },
        },
    }
    try:
        with running_gateway(config, tmp_path) as url:
            admin = Admin(url)
            assert admin.post("/team/new", {"team_id": "jwt-team", "models": ["demo"]}).status_code == 200
            user = signing.sign(jwks.claims(sub="jwt-user", team="jwt-team"))
            assert client(url, user).chat.completions.create(model="demo", messages=HI).choices
            with pytest.raises(openai.PermissionDeniedError):
                client(url, user).chat.completions.create(model="demo-2", messages=HI)
            assert Admin(url, user).post("/team/new", {"team_alias": "x"}).status_code == 403

            root = signing.sign(jwks.claims(sub="jwt-admin", scope="openid litellm_proxy_admin"))
            assert Admin(url, root).post("/team/new", {"team_alias": "by-jwt"}).status_code == 200

            expired = signing.sign(jwks.claims(sub="jwt-user", lifetime=-120))
            with pytest.raises(openai.AuthenticationError):
                client(url, expired).chat.completions.create(model="demo", messages=HI)
            stranger = jwks.rsa_key("e2e-rsa").sign(jwks.claims(sub="x"))  # same kid, another key
            with pytest.raises(openai.AuthenticationError):
                client(url, stranger).chat.completions.create(model="demo", messages=HI)
    finally:
        endpoint.close()
