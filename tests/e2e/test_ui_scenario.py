"""The admin console's end-to-end scenario (issue 16) in headless chromium against the real `switchyard
serve` process in front of a local fake upstream: an admin makes a team with a budget and a key in it,
the key is used through the `openai` client, the call shows on the Logs and Spend pages, the blocked key
is refused, and an internal user then finds the admin pages refused exactly as the management API
refuses them. Every page visited is screenshotted (full and 375 px) and checked with axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.e2e.conftest import ledger_record, running_gateway
from tests.e2e.ui_browser import (
    checked,
    chromium_page,
    create_key,
    sign_in,
    sign_in_with_password,
    sign_out,
)
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-scenario-master"
MASTER = {"authorization": f"Bearer {MASTER_KEY}"}
MODEL = "scenario"
PROMPT = "hello from the console scenario"
INTERNAL = {"user_id": "ivy", "user_email": "ivy@example.com", "password": "ivy's passphrase"}
# The directory pages, the management API route each shows, and what that route answers an
# internal_user: the page refuses with the API's own message, or shows its list with no form.
DIRECTORY = {
    "Users": ("/user/list", 403),
    "Customers": ("/customer/list", 403),
    "Organizations": ("/organization/list", 200),
}


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {"model": "openai/ok", "api_base": upstream.base_url, "api_key": "sk-up"},
                "model_info": {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002},
            }
        ],
        "general_settings": {"master_key": MASTER_KEY, "store_prompts_in_spend_logs": True},
    }
    with running_gateway(config, tmp_path_factory.mktemp("ui-scenario")) as url:
        yield url


def _client(gateway: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=f"{gateway}/v1", max_retries=0, timeout=10)


def _create_team(page, gateway: str) -> str:  # type: ignore[no-untyped-def]
    """Makes a team with a budget on the Teams page; answers its id (the detail page's address)."""
    page.get_by_role("link", name="Teams").click()
    page.wait_for_url(f"{gateway}/ui/teams")
    checked(page, "scenario-teams")
    page.get_by_label("Team name").fill("scenario-team")
    page.get_by_label("Max budget (USD)").fill("10")
    page.get_by_role("button", name="Create team").click()
    page.get_by_role("heading", name="Team scenario-team", level=1).wait_for()
    checked(page, "scenario-team-detail")
    return page.url.rsplit("/", 1)[1]


def _see_call_in_logs(page, gateway: str, call_id: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Logs").click()
    page.wait_for_url(f"{gateway}/ui/logs")
    page.get_by_role("row", name=call_id).wait_for()
    checked(page, "scenario-logs")
    page.get_by_role("link", name=call_id).click()
    page.wait_for_url(f"{gateway}/ui/logs/{call_id}")
    assert PROMPT in page.locator("pre").first.inner_text()
    assert "scenario-key" in page.content()
    checked(page, "scenario-log-detail")


def _see_cost_on_spend(page, gateway: str, spend: float) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Spend").click()
    page.wait_for_url(f"{gateway}/ui/spend")
    assert page.get_by_role("img", name=f"Spend by day, 30 days, highest ${spend:g} on").is_visible()
    for table, row in (("Spend by model", MODEL), ("Spend by team", "scenario-team")):
        cells = page.get_by_role("table", name=f"{table}: spend, requests and tokens").get_by_role(
            "row", name=row
        )
        assert cells.inner_text().split("\t")[1].strip() == f"${spend:g}", table
    checked(page, "scenario-spend")


def _block_key(page, gateway: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Keys").click()
    page.wait_for_url(f"{gateway}/ui/keys")
    page.get_by_role("row", name="scenario-key").get_by_role("button", name="Block scenario-key").click()
    page.get_by_role("button", name="Unblock scenario-key").wait_for()
    checked(page, "scenario-keys-blocked")


def _internal_user_key(gateway: str) -> str:
    """An internal_user with a password (to sign in) and a virtual key (to ask the API the same things)."""
    made = httpx.post(
        f"{gateway}/user/new",
        json={**INTERNAL, "user_role": "internal_user", "auto_create_key": False},
        headers=MASTER,
    )
    assert made.status_code == 200, made.text
    key = httpx.post(f"{gateway}/key/generate", json={"user_id": INTERNAL["user_id"]}, headers=MASTER)
    assert key.status_code == 200, key.text
    return key.json()["key"]


def _see_admin_pages_refused(page, gateway: str, key: str) -> None:  # type: ignore[no-untyped-def]
    assert page.get_by_text("(internal_user)").is_visible()
    assert page.get_by_role("heading", name="Add a model").count() == 0
    assert page.get_by_role("button", name="Add model").count() == 0
    checked(page, "scenario-internal-models")
    for name, (route, status) in DIRECTORY.items():
        api = httpx.get(f"{gateway}{route}", headers={"authorization": f"Bearer {key}"})
        assert api.status_code == status, f"{route} answers {api.text}"
        page.goto(f"{gateway}/ui/{name.lower()}")
        refused = page.get_by_role("alert")
        if status == 403:
            assert refused.inner_text() == api.json()["error"]["message"], name
        else:
            assert refused.count() == 0, name
            assert page.get_by_role("heading", name=name, level=1).is_visible()
            assert page.locator("main form").count() == 0, f"the {name} page offers an internal_user a form"
        checked(page, f"scenario-internal-{name.lower()}")


def test_an_admin_budgets_a_team_keys_it_follows_its_call_and_blocks_it_then_a_user_is_refused(
    gateway: str, upstream: FakeUpstream
) -> None:
    with chromium_page() as page:
        sign_in(page, gateway, MASTER_KEY)
        checked(page, "scenario-models")
        team_id = _create_team(page, gateway)

        page.get_by_role("link", name="Keys").click()
        page.wait_for_url(f"{gateway}/ui/keys")
        secret = create_key(page, "scenario-key", {"Team ID": team_id, "Models": MODEL})
        checked(page, "scenario-key-secret")

        client = _client(gateway, secret)
        reply = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=[{"role": "user", "content": PROMPT}]
        )
        assert reply.parse().choices[0].message.content
        assert upstream.received("ok")[-1]["body"]["messages"] == [{"role": "user", "content": PROMPT}]
        call_id = reply.headers["x-switchyard-call-id"]
        logged = ledger_record(gateway, call_id, MASTER_KEY)
        assert logged["team_id"] == team_id and logged["spend"] > 0

        _see_call_in_logs(page, gateway, call_id)
        _see_cost_on_spend(page, gateway, logged["spend"])
        _block_key(page, gateway)
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}])

        sign_out(page, gateway)
        checked(page, "scenario-signed-out")
        key = _internal_user_key(gateway)
        sign_in_with_password(page, gateway, INTERNAL["user_email"], INTERNAL["password"])
        _see_admin_pages_refused(page, gateway, key)
