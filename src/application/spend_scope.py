"""Whose spend a caller may read, as pure rules over the caller's reach, and the filters reports take.

- proxy_admin and proxy_admin_viewer read everyone's spend.
- A team's spend is read by its admins (and by org_admins of its organization).
- A user reads its own spend: asking for another user's is refused.
- A key without a user reads its own key's spend.
- Only a proxy_admin resets spend.
Every refusal is a 403 naming the filter refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from application.access import hash_key
from application.management.authority import Reach, refuse, require_admin
from domain.access import Principal
from domain.errors import BadRequestError
from domain.frozen import frozen
from domain.identity import Team

_TOKEN = re.compile(r"[0-9a-f]{64}")


@frozen
class SpendFilter:
    """Equality filters on whose calls a report counts (None: any)."""

    key_hash: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    end_user: str | None = None


def key_hash_of(api_key: str | None) -> str | None:
    """The stored token a key filter names: a 64-hex token as it is, any other text (`sk-...`) being the
    secret itself, hashed as keys are stored."""
    if not api_key:
        return None
    lowered = api_key.lower()
    return lowered if _TOKEN.fullmatch(lowered) else hash_key(api_key)


def scoped(reach: Reach, asked: SpendFilter, team: Team | None) -> SpendFilter:
    """`asked` narrowed to what the caller may read, or a 403 naming the filter it may not use. `team` is
    the record `asked.team_id` names (None when not asked or unknown)."""
    principal = reach.principal
    if principal.reads_everything:
        return asked
    if asked.team_id is not None:
        if team is not None and reach.administers_team(team):
            return asked
        refuse(f"You may read the spend of team {asked.team_id} only as an admin of it.", param="team_id")
    if reach.user_id is not None:
        if asked.user_id not in (None, reach.user_id):
            refuse(f"You may read your own spend only, not that of user {asked.user_id}.", param="user_id")
        return replace(asked, user_id=reach.user_id)
    own = principal.key
    if own is None:
        refuse("Only a user or a key has spend of its own to read.")
    if asked.user_id is not None:
        refuse(f"This key may read its own spend only, not that of user {asked.user_id}.", param="user_id")
    if asked.key_hash not in (None, own.token):
        refuse("This key may read its own spend only, not that of another key.", param="api_key")
    return replace(asked, key_hash=own.token)


def scoped_teams(reach: Reach, asked: Sequence[str], teams: Mapping[str, Team]) -> tuple[str, ...] | None:
    """The teams a team report covers: those asked (each one the caller's to read, else a 403 naming
    team_ids), or without any asked, every team for an admin (None) and the teams it administers for
    anyone else. `teams` holds the records of the teams asked."""
    if reach.principal.reads_everything:
        return tuple(asked) or None
    if not asked:
        own = tuple(sorted(reach.admin_team_ids()))
        if not own:
            refuse("You administer no team: name the teams to report on in team_ids.", param="team_ids")
        return own
    for team_id in asked:
        team = teams.get(team_id)
        if team is None or not reach.administers_team(team):
            refuse(f"You may read the spend of team {team_id} only as an admin of it.", param="team_ids")
    return tuple(asked)


def check_reset(principal: Principal) -> None:
    require_admin(principal, "reset spend")


def log_window(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """The half-open range of start times a log query covers: a day counts whole (an end day up to its
    last moment), a moment as given, up to and including `end` (LiteLLM compares with <=). A naive
    moment is UTC. 400 naming end_date when the range is backwards."""
    since = None if start is None else _moment(start)
    until = None if end is None else _moment(end, after=True)
    if since is not None and until is not None and until <= since:
        raise BadRequestError("end_date must not be before start_date", param="end_date")
    return since, until


def day_range(start: date | None, end: date | None) -> tuple[date, date]:
    """The days a daily report covers, both required, as whole UTC days. 400 naming the missing or
    backwards one."""
    if start is None:
        raise BadRequestError("start_date is required (YYYY-MM-DD)", param="start_date")
    if end is None:
        raise BadRequestError("end_date is required (YYYY-MM-DD)", param="end_date")
    first, last = _day(start), _day(end)
    if last < first:
        raise BadRequestError("end_date must not be before start_date", param="end_date")
    return first, last


def _moment(value: date, *, after: bool = False) -> datetime:
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment + timedelta(microseconds=1) if after else moment
    day = value + timedelta(days=1) if after else value
    return datetime.combine(day, time(), UTC)


def _day(value: date) -> date:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).date()
    return value
