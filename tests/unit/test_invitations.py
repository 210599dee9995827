"""Console passwords and invitation links: the use cases over the in-memory store, the argon2id
hasher, and /user/* and /invitation/* through the HTTP API as LiteLLM's clients call them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from litestar.testing import AsyncTestClient

from adapters.crypto.argon2_hasher import Argon2PasswordHasher
from adapters.persistence.memory import InMemoryStore
from application.management import Management
from domain.access import MASTER, Principal, Via
from domain.errors import BadRequestError, NotFoundError, PermissionDeniedError
from domain.identity import Role
from ports.password_hasher import PasswordHasher
from tests.fakes import FakeClock
from tests.unit.ui_console import MASTER as MASTER_HEADERS
from tests.unit.ui_console import Client, console_app


class FakePasswordHasher(PasswordHasher):
    """Readable "hashes" (a fresh salt each time, as the contract asks), so the tests run fast."""

    def __init__(self) -> None:
        self.made = 0

    def hash(self, password: str) -> str:
        self.made += 1
        return f"fake${self.made}${password}"

    def verify(self, hashed: str, password: str) -> bool:
        return hashed.startswith("fake$") and hashed.split("$", 2)[2] == password


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def management(store: InMemoryStore, clock: FakeClock) -> Management:
    return Management.build(uow=store.unit_of_work, clock=clock, passwords=FakePasswordHasher())


async def _user(management: Management, password: str | None = None, **fields: object) -> str:
    wanted = {"user_id": "ada", "user_email": "ada@example.com", "auto_create_key": False, **fields}
    if password is not None:
        wanted["password"] = password
    return (await management.users.new(MASTER, wanted)).user.user_id


def test_argon2id_hashes_are_salted_and_checked() -> None:
    hasher = Argon2PasswordHasher()

    first, second = hasher.hash("correct horse"), hasher.hash("correct horse")

    assert first.startswith("$argon2id$") and first != second
    assert hasher.verify(first, "correct horse") and not hasher.verify(first, "wrong")
    assert not hasher.verify("not a hash", "correct horse")


async def test_a_password_is_kept_only_as_its_hash_and_never_audited(
    management: Management, store: InMemoryStore
) -> None:
    await _user(management, "s3cret!")

    user = await management.users.signed_in("ada@example.com", "s3cret!")

    assert user is not None and user.password_hash is not None and user.password_hash != "s3cret!"
    assert "s3cret!" not in repr(user) and user.password_hash not in repr(user)
    assert all("password_hash" not in (entry.after or {}) for entry in store.audit)


async def test_a_wrong_password_an_unknown_email_and_no_password_are_refused_alike(
    management: Management,
) -> None:
    await _user(management, "s3cret!")
    await _user(management, user_id="bob", user_email="bob@example.com")

    assert await management.users.signed_in("ada@example.com", "nope") is None
    assert await management.users.signed_in("who@example.com", "s3cret!") is None
    assert await management.users.signed_in("bob@example.com", "") is None


async def test_user_update_sets_a_new_password(management: Management) -> None:
    await _user(management, "old")

    await management.users.update(MASTER, {"password": "new"}, user_id="ada")

    assert await management.users.signed_in("ada@example.com", "old") is None
    assert await management.users.signed_in("ada@example.com", "new") is not None


async def test_an_empty_password_is_a_400_naming_it(management: Management) -> None:
    with pytest.raises(BadRequestError) as refused:
        await _user(management, "")

    assert refused.value.param == "password"


async def test_an_invitation_sets_the_password_once(management: Management, clock: FakeClock) -> None:
    await _user(management)
    invitation = await management.invitations.new(MASTER, "ada")

    assert invitation.expires_at - invitation.created_at == timedelta(days=7)  # type: ignore[operator]
    assert (await management.invitations.invited(invitation.id)).user_id == "ada"
    user = await management.invitations.accept(invitation.id, "chosen")

    assert await management.users.signed_in("ada@example.com", "chosen") == user
    assert (await management.invitations.info(MASTER, invitation.id)).is_accepted
    with pytest.raises(NotFoundError):
        await management.invitations.accept(invitation.id, "again")


async def test_an_invitation_expires_after_seven_days(management: Management, clock: FakeClock) -> None:
    await _user(management)
    invitation = await management.invitations.new(MASTER, "ada")

    clock.advance(7 * 86400 + 1)

    with pytest.raises(NotFoundError):
        await management.invitations.invited(invitation.id)


async def test_only_an_admin_invites_and_only_existing_users(management: Management) -> None:
    await _user(management)
    viewer = Principal(via=Via.VIRTUAL_KEY, role=Role.PROXY_ADMIN_VIEWER)

    with pytest.raises(PermissionDeniedError):
        await management.invitations.new(viewer, "ada")
    with pytest.raises(BadRequestError) as unknown:
        await management.invitations.new(MASTER, "nobody")
    assert unknown.value.param == "user_id"


async def test_a_deleted_invitation_no_longer_works(management: Management) -> None:
    await _user(management)
    invitation = await management.invitations.new(MASTER, "ada")

    assert (await management.invitations.delete(MASTER, invitation.id)).id == invitation.id

    with pytest.raises(NotFoundError):
        await management.invitations.invited(invitation.id)


async def test_single_sign_on_creates_a_viewer_and_follows_the_providers_role(management: Management) -> None:
    made = await management.users.single_sign_on("grace", "grace@example.com", None)
    promoted = await management.users.single_sign_on("grace", "grace@example.com", Role.PROXY_ADMIN)
    by_email = await management.users.single_sign_on("g.hopper", "grace@example.com", None)

    assert made.user_role is Role.INTERNAL_USER_VIEWER
    assert promoted.user_role is Role.PROXY_ADMIN
    assert by_email.user_id == "grace"


# Through the HTTP API --------------------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with AsyncTestClient(console_app()) as test_client:
        yield test_client


async def test_the_invitation_routes_answer_litellms_shapes(client: Client) -> None:
    made = await client.post("/user/new", json={"user_id": "ada", "password": "pw"}, headers=MASTER_HEADERS)
    assert made.status_code == 200 and "password" not in made.text and "argon2" not in made.text

    new = await client.post("/invitation/new", json={"user_id": "ada"}, headers=MASTER_HEADERS)
    body = new.json()
    info = await client.get(f"/invitation/info?invitation_id={body['id']}", headers=MASTER_HEADERS)
    deleted = await client.post(
        "/invitation/delete", json={"invitation_id": body["id"]}, headers=MASTER_HEADERS
    )

    assert new.status_code == 200, new.text
    assert {"id", "user_id", "is_accepted", "accepted_at", "expires_at", "created_at", "created_by"} <= set(
        body
    )
    assert body["user_id"] == "ada" and body["is_accepted"] is False
    assert body["invitation_link"].endswith(f"/ui/onboarding?invitation_id={body['id']}")
    assert info.json()["id"] == body["id"]
    assert deleted.status_code == 200 and deleted.json()["id"] == body["id"]
    gone = await client.get(f"/invitation/info?invitation_id={body['id']}", headers=MASTER_HEADERS)
    assert gone.status_code == 404


async def test_an_invitation_for_nobody_is_a_400_naming_user_id(client: Client) -> None:
    response = await client.post("/invitation/new", json={"user_id": "nobody"}, headers=MASTER_HEADERS)

    assert response.status_code == 400 and response.json()["error"]["param"] == "user_id"


async def test_user_info_never_shows_the_password_hash(client: Client) -> None:
    await client.post("/user/new", json={"user_id": "ada", "password": "pw"}, headers=MASTER_HEADERS)

    info = await client.get("/user/info?user_id=ada", headers=MASTER_HEADERS)

    assert info.status_code == 200 and "password" not in info.text and "argon2" not in info.text
