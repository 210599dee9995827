"""Every page of the console's navigation, and an unknown one, in headless chromium against the real
`switchyard serve` process: none scrolls sideways at 375 px and axe-core passes at both widths."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapters.http.ui.pages import NAV
from tests.e2e.conftest import running_gateway
from tests.e2e.ui_browser import checked, chromium_page, sign_in

pytestmark = pytest.mark.e2e

MASTER_KEY = "sk-ui-pages-master"
CONFIG = {
    "model_list": [{"model_name": "demo", "litellm_params": {"model": "mock/demo"}}],
    "general_settings": {"master_key": MASTER_KEY},
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_gateway(CONFIG, tmp_path_factory.mktemp("ui-pages")) as url:
        master = {"authorization": f"Bearer {MASTER_KEY}"}
        for path, body in (
            ("/team/new", {"team_alias": "a-team-with-a-rather-long-name-to-fit-on-a-phone"}),
            ("/key/generate", {"key_alias": "a-key-with-a-rather-long-alias", "models": ["demo"]}),
            ("/user/new", {"user_id": "ada", "user_email": "ada.lovelace@example.com"}),
        ):
            assert httpx.post(f"{url}{path}", json=body, headers=master).status_code == 200
        yield url


@pytest.fixture
def page(gateway: str):  # type: ignore[no-untyped-def]
    with chromium_page() as browser_page:
        sign_in(browser_page, gateway, MASTER_KEY)
        yield browser_page


@pytest.mark.parametrize("item", NAV, ids=[item.title for item in NAV])
def test_a_page_of_the_navigation_fits_a_phone_and_is_accessible(gateway: str, page, item) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{gateway}{item.path}")

    assert page.get_by_role("heading", level=1).count() == 1
    checked(page, f"page-{item.title.lower()}")


def test_an_unknown_page_is_a_404_page_in_the_console(gateway: str, page) -> None:  # type: ignore[no-untyped-def]
    response = page.goto(f"{gateway}/ui/no-such-page")

    assert response is not None and response.status == 404
    page.get_by_role("heading", name="Page not found").wait_for()
    assert page.get_by_role("navigation").get_by_role("link", name="Keys").count() == 1
    checked(page, "not-found")
