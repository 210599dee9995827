"""The console's other ways in, through Litestar's test client: email and password, invitation links,
single sign-on against a fake OpenID Connect provider (httpx's MockTransport), and the login form's
own CSRF token and failed-attempt limit."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.cache.memory_rate_limiter import InMemoryRateLimiter
from adapters.config.loader import load_config
from adapters.http.ui.login import WRONG_PASSWORD
from adapters.http.ui.sso_settings import SsoSettings
from application.sign_in_throttle import FAILURES_PER_MINUTE, SignInThrottle
from bootstrap import build_container, create_http_app
from domain.errors import ConfigurationError, RateLimitError
from tests.fakes import FakeClock
from tests.unit.ui_console import MASTER, MASTER_KEY, Client, console_app, csrf_token, login_form


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def _user(client: Client, **fields: Any) -> None:
    body = {"user_id": "ada", "user_email": "ada@example.com", "auto_create_key": False, **fields}
    response = await client.post("/user/new", json=body, headers=MASTER)
    assert response.status_code == 200, response.text


async def _password_sign_in(client: Client, email: str, password: str) -> Any:
    form = {"email": email, "password": password, **await login_form(client)}
    return await client.post("/ui/login", data=form, follow_redirects=False)


async def test_the_login_page_offers_a_key_and_email_and_password(client: Client) -> None:
    page = (await client.get("/ui/login")).text

    assert '<label for="key">' in page and '<label for="email">' in page and '<label for="password">' in page
    assert "/ui/sso/login" not in page  # no GENERIC_CLIENT_ID here


async def test_a_login_post_without_the_forms_token_is_refused(client: Client) -> None:
    await client.get("/ui/login")

    missing = await client.post("/ui/login", data={"key": MASTER_KEY}, follow_redirects=False)
    wrong = await client.post(
        "/ui/login", data={"key": MASTER_KEY, "csrf_token": "x"}, follow_redirects=False
    )

    assert missing.status_code == 403 and wrong.status_code == 403


async def test_a_user_signs_in_with_email_and_password_and_has_their_role(client: Client) -> None:
    await _user(client, password="s3cret!", user_role="proxy_admin_viewer")

    response = await _password_sign_in(client, "ada@example.com", "s3cret!")

    assert response.status_code == 303 and response.headers["location"] == "/ui/models"
    page = await client.get("/ui/models")
    assert "Signed in as user:ada (proxy_admin_viewer)" in page.text


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client: Client) -> None:
    await _user(client, password="s3cret!")

    wrong = await _password_sign_in(client, "ada@example.com", "nope")
    unknown = await _password_sign_in(client, "who@example.com", "s3cret!")

    assert wrong.status_code == unknown.status_code == 401
    assert WRONG_PASSWORD in wrong.text and WRONG_PASSWORD in unknown.text


async def test_a_blocked_user_cannot_sign_in_and_is_signed_out(client: Client) -> None:
    await _user(client, password="s3cret!")
    assert (await _password_sign_in(client, "ada@example.com", "s3cret!")).status_code == 303

    await client.post("/user/update", json={"user_id": "ada", "blocked": True}, headers=MASTER)

    assert (await client.get("/ui/models", follow_redirects=False)).status_code == 303
    refused = await _password_sign_in(client, "ada@example.com", "s3cret!")
    assert refused.status_code == 401 and "blocked" in refused.text


async def test_failed_sign_ins_are_limited_per_address(client: Client) -> None:
    # Counted in one-minute windows: within 2 x the limit, one window is full whatever the start time.
    answers = [
        await _password_sign_in(client, "who@example.com", "guess")
        for _ in range(2 * FAILURES_PER_MINUTE + 1)
    ]

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) >= FAILURES_PER_MINUTE and 429 in statuses
    assert "Too many failed sign-ins from your address" in answers[statuses.index(429)].text


async def test_the_throttle_refuses_even_a_right_attempt_once_the_failures_are_spent() -> None:
    clock = FakeClock(start=6_000_000.0)  # the start of a window
    throttle = SignInThrottle(limiter=InMemoryRateLimiter(), clock=clock)
    for _ in range(FAILURES_PER_MINUTE):
        await (await throttle.attempt("10.0.0.1")).ended(failed=True)

    with pytest.raises(RateLimitError) as refused:
        await throttle.attempt("10.0.0.1")
    await (await throttle.attempt("10.0.0.2")).ended(failed=False)  # another address is not affected
    clock.advance(60)
    await throttle.attempt("10.0.0.1")  # the next minute starts afresh

    assert refused.value.retry_after == 60


async def test_successful_sign_ins_do_not_count_against_the_limit(client: Client) -> None:
    for _ in range(FAILURES_PER_MINUTE + 2):
        form = {"key": MASTER_KEY, **await login_form(client)}
        assert (await client.post("/ui/login", data=form, follow_redirects=False)).status_code == 303


async def _invitation_link(client: Client) -> str:
    await _user(client)
    made = await client.post("/invitation/new", json={"user_id": "ada"}, headers=MASTER)
    link = urlsplit(made.json()["invitation_link"])
    return f"{link.path}?{link.query}"


async def _onboard(client: Client, link: str, password: str, again: str) -> Any:
    """Opens the link's page, as the invited user does, and posts its form."""
    page = await client.get(link)
    assert page.status_code == 200 and "ada@example.com" in page.text
    form = {
        "invitation_id": parse_qs(urlsplit(link).query)["invitation_id"][0],
        "password": password,
        "password_confirm": again,
        "csrf_token": csrf_token(page),
    }
    return await client.post("/ui/onboarding", data=form, follow_redirects=False)


async def test_an_invitation_link_sets_a_password_and_signs_the_user_in(client: Client) -> None:
    link = await _invitation_link(client)

    response = await _onboard(client, link, "chosen", "chosen")

    assert response.status_code == 303 and response.headers["location"] == "/ui/models"
    assert "Signed in as user:ada" in (await client.get("/ui/models")).text
    client.cookies.clear()
    assert (await _password_sign_in(client, "ada@example.com", "chosen")).status_code == 303
    assert (await client.get(link)).status_code == 404  # used once


async def test_onboarding_asks_for_the_same_password_twice(client: Client) -> None:
    response = await _onboard(client, await _invitation_link(client), "a", "b")

    assert response.status_code == 400 and "The two passwords differ" in response.text


async def test_an_unknown_invitation_link_says_so(client: Client) -> None:
    response = await client.get("/ui/onboarding?invitation_id=nope")

    assert response.status_code == 404 and "ask an admin for a new one" in response.text


# Single sign-on ------------------------------------------------------------------------------------


class FakeIdentityProvider:
    """The token and userinfo endpoints of an OpenID Connect provider, recording what they were sent."""

    def __init__(self, claims: dict[str, Any]) -> None:
        self.claims = claims
        self.token_requests: list[httpx.Request] = []
        self.issued: dict[str, str] = {}
        """Codes it handed out, by the PKCE challenge they were bound to."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            self.token_requests.append(request)
            form = parse_qs(request.content.decode())
            verifier = form["code_verifier"][0]
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
            if self.issued.get(challenge.decode()) != form["code"][0]:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(200, json={"access_token": "at-1", "token_type": "Bearer"})
        if request.headers.get("authorization") != "Bearer at-1":
            return httpx.Response(401)
        return httpx.Response(200, json=self.claims)

    def authorize(self, location: str) -> str:
        """What the provider's login page does: the callback URL with a code bound to the challenge."""
        query = parse_qs(urlsplit(location).query)
        code = f"code-{len(self.issued)}"
        self.issued[query["code_challenge"][0]] = code
        return f"/ui/sso/callback?code={code}&state={query['state'][0]}"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> FakeIdentityProvider:
    """The fake provider, reached by every httpx client the console opens (the test client was
    made before and is not affected)."""
    fake = FakeIdentityProvider(
        {"preferred_username": "grace", "email": "g@example.com", "role": "proxy_admin"}
    )
    network = httpx.AsyncClient
    monkeypatch.setattr(
        httpx, "AsyncClient", lambda **kw: network(transport=httpx.MockTransport(fake.handle), **kw)
    )
    return fake


def _sso_app() -> Any:
    config = load_config(
        {
            "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
            "general_settings": {"master_key": MASTER_KEY},
            "environment_variables": {
                "GENERIC_CLIENT_ID": "switchyard",
                "GENERIC_CLIENT_SECRET": "idp-secret",
                "GENERIC_AUTHORIZATION_ENDPOINT": "https://idp.test/authorize",
                "GENERIC_TOKEN_ENDPOINT": "https://idp.test/token",
                "GENERIC_USERINFO_ENDPOINT": "https://idp.test/userinfo",
            },
        },
        {"DATABASE_URL": "memory://"},
    )
    return create_http_app(build_container(config))


async def test_sso_signs_in_a_new_user_with_the_providers_role(provider: FakeIdentityProvider) -> None:
    async with AsyncTestClient(_sso_app()) as client:
        assert "/ui/sso/login" in (await client.get("/ui/login")).text
        start = await client.get("/ui/sso/login", follow_redirects=False)
        location = start.headers["location"]
        query = parse_qs(urlsplit(location).query)

        finish = await client.get(provider.authorize(location), follow_redirects=False)

        assert location.startswith("https://idp.test/authorize?")
        assert query["code_challenge_method"] == ["S256"] and query["scope"] == ["openid email profile"]
        assert query["redirect_uri"] == ["http://testserver.local/ui/sso/callback"]
        assert finish.status_code == 303, finish.text
        assert "Signed in as user:grace (proxy_admin)" in (await client.get("/ui/models")).text
        sent = provider.token_requests[0]
        assert sent.headers["authorization"] == "Basic " + base64.b64encode(b"switchyard:idp-secret").decode()
        info = await client.get("/user/info?user_id=grace", headers=MASTER)
        assert info.json()["user_info"]["user_email"] == "g@example.com"


async def test_sso_refuses_a_callback_whose_state_does_not_match(provider: FakeIdentityProvider) -> None:
    async with AsyncTestClient(_sso_app()) as client:
        start = await client.get("/ui/sso/login", follow_redirects=False)
        callback = provider.authorize(start.headers["location"]).replace("state=", "state=forged")

        response = await client.get(callback, follow_redirects=False)

        assert response.status_code == 401 and not provider.token_requests


def test_sso_settings_come_from_litellms_variables() -> None:
    environ = {
        "GENERIC_CLIENT_ID": "id",
        "GENERIC_CLIENT_SECRET": "secret",
        "GENERIC_AUTHORIZATION_ENDPOINT": "https://idp/a",
        "GENERIC_TOKEN_ENDPOINT": "https://idp/t",
        "GENERIC_USERINFO_ENDPOINT": "https://idp/u",
        "GENERIC_USER_ROLE_ATTRIBUTE": "groups_role",
        "PROXY_BASE_URL": "https://gw.example/",
    }

    settings = SsoSettings.from_environment(environ)

    assert settings is not None and settings.role_attribute == "groups_role"
    assert settings.user_id_attribute == "preferred_username" and settings.base_url == "https://gw.example"
    assert SsoSettings.from_environment({}) is None


def test_sso_without_a_required_variable_stops_the_start_naming_it() -> None:
    with pytest.raises(ConfigurationError) as stopped:
        SsoSettings.from_environment({"GENERIC_CLIENT_ID": "id", "GENERIC_CLIENT_SECRET": "secret"})

    assert "GENERIC_AUTHORIZATION_ENDPOINT" in str(stopped.value)
