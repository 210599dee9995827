"""The console's other ways in, in a real browser against the real `switchyard serve` process: email
and password, an invitation link, and single sign-on through a local fake OpenID Connect provider."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.e2e.conftest import running_gateway
from tests.e2e.fake_server import FakeHandler, FakeServer
from tests.e2e.ui_browser import assert_accessible, chromium_page, screenshot

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-auth-master"
MASTER = {"authorization": f"Bearer {MASTER_KEY}"}
CONFIG = {
    "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
    "general_settings": {"master_key": MASTER_KEY},
}


class OidcHandler(FakeHandler):
    """An identity provider whose user consents at once: /authorize sends the browser straight back
    with a code bound to the PKCE challenge; /token checks the verifier; /userinfo names the user."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/authorize":
            self.record(None, query=query)
            code = f"code-{len(self.server.requests)}"
            self.server.codes[code] = query["code_challenge"][0]  # type: ignore[attr-defined]
            back = urlencode({"code": code, "state": query["state"][0]})
            self.send_response(302)
            self.send_header("location", f"{query['redirect_uri'][0]}?{back}")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if self.headers.get("authorization") != "Bearer at-grace":
            self.send_json(401, {"error": "invalid_token"})
            return
        self.send_json(
            200, {"preferred_username": "grace", "email": "grace@example.com", "role": "proxy_admin"}
        )

    def do_POST(self) -> None:
        form = parse_qs(self.read_body().decode())
        self.record(form)
        verifier = form["code_verifier"][0].encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
        if self.server.codes.get(form["code"][0]) != challenge:  # type: ignore[attr-defined]
            self.send_json(400, {"error": "invalid_grant"})
            return
        self.send_json(200, {"access_token": "at-grace", "token_type": "Bearer", "expires_in": 300})


class FakeIdentityProvider(FakeServer):
    handler = OidcHandler

    def __init__(self) -> None:
        super().__init__()
        self.codes: dict[str, str] = {}


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, provider: FakeIdentityProvider) -> Iterator[str]:
    environment = {
        "GENERIC_CLIENT_ID": "switchyard",
        "GENERIC_CLIENT_SECRET": "idp-secret",
        "GENERIC_AUTHORIZATION_ENDPOINT": f"{provider.root}/authorize",
        "GENERIC_TOKEN_ENDPOINT": f"{provider.root}/token",
        "GENERIC_USERINFO_ENDPOINT": f"{provider.root}/userinfo",
    }
    with running_gateway(CONFIG, tmp_path_factory.mktemp("ui-auth"), environment=environment) as url:
        yield url


@pytest.fixture
def page(gateway: str):  # type: ignore[no-untyped-def]
    with chromium_page() as browser_page:
        yield browser_page


def _user(gateway: str, user_id: str, **fields: object) -> None:
    body = {"user_id": user_id, "user_email": f"{user_id}@example.com", "auto_create_key": False, **fields}
    response = httpx.post(f"{gateway}/user/new", json=body, headers=MASTER)
    assert response.status_code == 200, response.text


def test_the_login_page_with_every_way_in_is_accessible(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{gateway}/ui/login")

    assert page.get_by_role("link", name="Sign in with SSO").is_visible()
    screenshot(page, "login-all-ways")
    assert_accessible(page)


def test_a_user_signs_in_with_email_and_password(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    _user(gateway, "ada", password="correct horse", user_role="internal_user")
    page.goto(f"{gateway}/ui/login")

    page.get_by_label("Email", exact=True).fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill("wrong")
    page.get_by_role("button", name="Sign in with email").click()
    page.get_by_text("Wrong email or password.").wait_for()
    screenshot(page, "login-wrong-password")
    assert_accessible(page)
    page.get_by_label("Email", exact=True).fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill("correct horse")
    page.get_by_role("button", name="Sign in with email").click()

    page.wait_for_url(f"{gateway}/ui/models")
    assert page.get_by_text("Signed in as user:ada (internal_user)").is_visible()


def test_an_invited_user_sets_a_password_and_is_signed_in(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    _user(gateway, "bob")
    made = httpx.post(f"{gateway}/invitation/new", json={"user_id": "bob"}, headers=MASTER).json()

    page.goto(made["invitation_link"])
    assert page.get_by_role("heading", name="Set your password").is_visible()
    screenshot(page, "onboarding")
    assert_accessible(page)
    page.get_by_label("New password").fill("bobs password")
    page.get_by_label("The same password again").fill("bobs password")
    page.get_by_role("button", name="Set password and sign in").click()

    page.wait_for_url(f"{gateway}/ui/models")
    assert page.get_by_text("Signed in as user:bob").is_visible()
    assert httpx.get(made["invitation_link"]).status_code == 404


def test_sso_signs_in_through_the_identity_provider(gateway: str, page, provider) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{gateway}/ui/login")

    page.get_by_role("link", name="Sign in with SSO").click()

    page.wait_for_url(f"{gateway}/ui/models")
    assert page.get_by_text("Signed in as user:grace (proxy_admin)").is_visible()
    token_call = next(r for r in provider.requests if r["path"] == "/token")
    assert token_call["body"]["grant_type"] == ["authorization_code"]
    assert token_call["headers"]["authorization"].startswith("Basic ")
