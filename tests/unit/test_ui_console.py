"""The admin console's foundation through Litestar's test client: signing in and out, the session
cookie, CSRF, the session resolved again on every request, and `ui: false`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from adapters.http.ui.session import COOKIE, LIFETIME, SessionKind, SessionSigner
from tests.unit.ui_console import MASTER, Client, console_app, csrf_token, login_form, new_key, sign_in


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def test_a_visitor_who_has_not_signed_in_is_sent_to_the_login_page(client: Client) -> None:
    response = await client.get("/ui/models", follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert (await client.get("/ui", follow_redirects=False)).headers["location"] == "/ui/models"
    login = await client.get("/ui/login")
    assert login.status_code == 200 and '<label for="key">' in login.text


async def test_the_master_key_signs_in_with_a_locked_down_cookie(client: Client) -> None:
    response = await client.post(
        "/ui/login",
        data={"key": MASTER["authorization"][7:], **await login_form(client)},
        follow_redirects=False,
    )

    assert response.status_code == 303 and response.headers["location"] == "/ui/models"
    cookie = response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/ui" in cookie
    assert "secure" not in cookie  # plain HTTP here
    assert "sk-master-console" not in response.headers["set-cookie"]
    page = await client.get("/ui/models")
    assert page.status_code == 200 and "Signed in as master_key (proxy_admin)" in page.text


async def test_the_cookie_is_secure_behind_a_tls_proxy(client: Client) -> None:
    response = await client.post(
        "/ui/login",
        data={"key": MASTER["authorization"][7:], **await login_form(client)},
        headers={"x-forwarded-proto": "https"},
        follow_redirects=False,
    )

    assert "secure" in response.headers["set-cookie"].lower()


async def test_a_wrong_key_is_refused_on_the_login_page(client: Client) -> None:
    form = await login_form(client)
    response = await client.post("/ui/login", data={"key": "sk-nope", **form}, follow_redirects=False)

    assert response.status_code == 401 and "Invalid API key." in response.text
    assert f"{COOKIE}=" not in response.headers.get("set-cookie", "")


async def test_a_post_without_the_session_csrf_token_is_refused(client: Client) -> None:
    token = await sign_in(client)

    missing = await client.post("/ui/logout", follow_redirects=False)
    wrong = await client.post("/ui/logout", data={"csrf_token": "x" + token}, follow_redirects=False)

    assert missing.status_code == 403 and wrong.status_code == 403
    assert (await client.get("/ui/models")).status_code == 200  # still signed in


async def test_htmx_sends_the_csrf_token_as_a_header(client: Client) -> None:
    token = await sign_in(client)

    response = await client.post("/ui/logout", headers={"x-csrf-token": token}, follow_redirects=False)

    assert response.status_code == 303


async def test_htmx_is_told_to_load_the_login_page_when_the_session_is_gone(client: Client) -> None:
    response = await client.get("/ui/models", headers={"hx-request": "true"}, follow_redirects=False)

    assert response.headers["hx-redirect"] == "/ui/login"


async def test_signing_out_ends_the_session(client: Client) -> None:
    token = await sign_in(client)

    response = await client.post("/ui/logout", data={"csrf_token": token}, follow_redirects=False)

    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert (await client.get("/ui/models", follow_redirects=False)).status_code == 303


async def test_a_virtual_key_signs_in_and_its_session_ends_when_the_key_is_blocked(client: Client) -> None:
    secret = await new_key(client)
    await sign_in(client, secret)
    assert "internal_user" in (await client.get("/ui/models")).text

    blocked = await client.post("/key/block", json={"key": secret}, headers=MASTER)

    assert blocked.status_code == 200, blocked.text
    assert (await client.get("/ui/models", follow_redirects=False)).status_code == 303


async def test_an_altered_or_expired_session_is_no_session() -> None:
    signer = SessionSigner.from_secrets("salt", "sk-master")
    session = signer.issue(SessionKind.KEY, "hash", now=1000.0)
    cookie = signer.dump(session)

    assert signer.load(cookie, now=1000.0 + LIFETIME - 1) == session
    assert signer.load(cookie, now=1000.0 + LIFETIME) is None
    assert signer.load(cookie[:-2] + "AA", now=1000.0) is None
    assert SessionSigner.from_secrets("salt", "sk-rotated").load(cookie, now=1000.0) is None


async def test_the_navigation_follows_the_role(client: Client) -> None:
    await sign_in(client)
    admin_page = (await client.get("/ui/models")).text
    client.cookies.clear()
    await sign_in(client, await new_key(client))
    user_page = (await client.get("/ui/models")).text

    assert 'href="/ui/users"' in admin_page and 'href="/ui/customers"' in admin_page
    assert 'href="/ui/users"' not in user_page and 'href="/ui/keys"' in user_page


async def test_every_page_has_a_skip_link_and_labelled_landmarks(client: Client) -> None:
    await sign_in(client)
    page = (await client.get("/ui/models")).text

    assert 'class="skip-link" href="#main"' in page and '<main id="main"' in page
    assert '<nav aria-label="Console">' in page and "<footer" in page


async def test_the_assets_are_served_from_the_package(client: Client) -> None:
    css = await client.get("/ui/static/console.css")
    htmx = await client.get("/ui/static/htmx.min.js")

    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert htmx.status_code == 200 and b"htmx" in htmx.content
    assert (await client.get("/ui/static/nope.js")).status_code == 404


async def test_ui_false_turns_the_console_off() -> None:
    async with AsyncTestClient(console_app(ui=False)) as client:
        assert (await client.get("/ui/login")).status_code == 404
        assert (await client.get("/ui/models")).status_code == 404


def test_csrf_token_helper_reads_the_hidden_field() -> None:
    class Page:
        status_code = 200
        text = '<input type="hidden" name="csrf_token" value="abc">'

    assert csrf_token(Page()) == "abc"
