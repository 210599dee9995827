"""The console's Teams, Users, Organizations and Customers pages in headless chromium against the real
`switchyard serve` process: records made through the forms are what the management API then answers;
every page is screenshotted (full and 375 px) and checked with axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import running_gateway
from tests.e2e.ui_browser import checked, chromium_page, sign_in

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-directory-master"
MASTER = {"authorization": f"Bearer {MASTER_KEY}"}
CONFIG = {
    "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
    "general_settings": {"master_key": MASTER_KEY},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(CONFIG, tmp_path_factory.mktemp("ui-directory")) as url:
        yield url


@pytest.fixture
def page(gateway: str):  # type: ignore[no-untyped-def]
    with chromium_page() as browser_page:
        sign_in(browser_page, gateway, MASTER_KEY)
        yield browser_page


def _api(gateway: str, path: str) -> dict:
    response = httpx.get(f"{gateway}{path}", headers=MASTER)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_admin_creates_a_team_with_a_budget_and_adds_a_member(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Teams").click()
    page.wait_for_url(f"{gateway}/ui/teams")
    checked(page, "teams")

    page.get_by_label("Team name").fill("research")
    page.get_by_label("Max budget (USD)").fill("25")
    page.get_by_label("Budget period").fill("30d")
    page.get_by_label("Requests per minute").fill("60")
    page.get_by_role("button", name="Create team").click()
    page.get_by_role("heading", name="Team research", level=1).wait_for()
    team_id = page.url.rsplit("/", 1)[1]

    page.get_by_label("User email").fill("ada@example.com")
    page.get_by_label("Role").select_option("admin")
    page.get_by_role("button", name="Add member").click()
    page.get_by_role("row", name="ada@example.com").wait_for()
    checked(page, "team-detail")

    team = _api(gateway, f"/team/info?team_id={team_id}")["team_info"]
    assert team["max_budget"] == 25 and team["budget_duration"] == "30d" and team["rpm_limit"] == 60
    assert [(m["user_email"], m["role"]) for m in team["members_with_roles"]] == [
        ("ada@example.com", "admin")
    ]


def test_a_budget_error_is_shown_next_to_its_field(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{gateway}/ui/teams")
    page.get_by_label("Team name").fill("broken")
    page.get_by_label("Budget period").fill("fortnight")
    page.get_by_role("button", name="Create team").click()

    error = page.locator("#f-budget_duration-error")
    error.wait_for()
    assert error.inner_text()
    checked(page, "teams-field-error")


def test_users_are_created_listed_and_shown(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Users").click()
    page.wait_for_url(f"{gateway}/ui/users")

    page.get_by_label("User id").fill("grace")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Role", exact=True).select_option("internal_user_viewer")
    page.get_by_label("Max budget (USD)").fill("5")
    page.get_by_role("button", name="Create user").click()
    page.wait_for_url(f"{gateway}/ui/users/grace")
    checked(page, "user-detail")

    page.get_by_role("link", name="All users").click()
    page.get_by_role("row", name="grace@example.com").wait_for()
    checked(page, "users")
    user = _api(gateway, "/user/info?user_id=grace")["user_info"]
    assert user["user_role"] == "internal_user_viewer" and user["max_budget"] == 5


def test_an_organization_gets_a_member_with_a_role(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Organizations").click()
    page.wait_for_url(f"{gateway}/ui/organizations")
    page.get_by_label("Organization name").fill("Acme")
    page.get_by_role("button", name="Create organization").click()
    page.get_by_role("heading", name="Organization Acme", level=1).wait_for()

    page.get_by_label("User id").fill("lin")
    page.get_by_label("Role").select_option("org_admin")
    page.get_by_role("button", name="Add member").click()
    page.get_by_role("row", name="lin").wait_for()
    checked(page, "organization-detail")

    page.get_by_role("link", name="All organizations").click()
    page.get_by_role("row", name="Acme").wait_for()
    checked(page, "organizations")


def test_a_customer_is_added_and_blocked(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Customers").click()
    page.wait_for_url(f"{gateway}/ui/customers")
    page.get_by_label("Customer id").fill("acme-app-user")
    page.get_by_label("Allowed model region").select_option("eu")
    page.get_by_label("Max budget (USD)").fill("3")
    page.get_by_role("button", name="Add customer").click()
    page.wait_for_url(f"{gateway}/ui/customers/acme-app-user")

    page.get_by_role("button", name="Block acme-app-user").click()
    page.get_by_role("button", name="Unblock acme-app-user").wait_for()
    checked(page, "customer-detail")

    page.get_by_role("link", name="All customers").click()
    page.get_by_role("row", name="acme-app-user").wait_for()
    checked(page, "customers")
    customer = _api(gateway, "/customer/info?end_user_id=acme-app-user")
    assert customer["blocked"] is True and customer["allowed_model_region"] == "eu"


def test_an_internal_user_is_refused_the_admin_pages(gateway: str) -> None:
    made = httpx.post(f"{gateway}/key/generate", json={}, headers=MASTER).json()["key"]
    with chromium_page() as page:
        sign_in(page, gateway, made)
        assert page.get_by_role("link", name="Users").count() == 0

        page.goto(f"{gateway}/ui/users")

        assert page.get_by_role("alert").inner_text().startswith("Only a proxy_admin")
        checked(page, "users-refused")
