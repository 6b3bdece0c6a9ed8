"""Users of identity providers: made at first sign-in, their groups refreshed at each one.

A provider's person is found by (provider, subject), never by name alone: a name someone else
holds (a local account, another provider's user) is refused rather than taken over. Each
sign-in replaces the user's group memberships with what the provider says now and sets the
role from the groups (`berth.domain.identity.role_for`). Someone the groups no longer let in is
refused, and every session and API token they still hold is revoked then and there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from berth.domain.identity import Claimed, GroupRules, SignInRefused, role_for
from berth.store import audit, teams
from berth.store.db import Tx
from berth.store.models import Group, GroupMember, User
from berth.store.users import revoke_credentials


@dataclass(frozen=True)
class Outcome:
    """A sign-in's result: the user (None if refused before one existed) and the refusal."""

    user: User | None
    refusal: str | None = None


def sign_in(
    tx: Tx, who: Claimed, rules: GroupRules, now: datetime, client: str | None = None
) -> Outcome:
    """Create or refresh the provider's user; an Outcome with `refusal` set says why not.

    A refusal still commits what it found out (the groups, revoked credentials, the audit
    entry), so the caller commits the transaction either way and answers with the refusal.
    """
    user = tx.scalar(select(User).where(User.provider == who.provider, User.subject == who.subject))
    if user is None:
        taken = tx.scalar(select(User).where(User.username == who.username))
        if taken is not None:
            return _refuse(
                tx,
                who,
                None,
                f"the user name {who.username!r} already belongs to another account "
                f"({taken.provider}); an admin must rename or remove it first",
                client,
            )
    elif user.username != who.username:
        taken = tx.scalar(select(User).where(User.username == who.username))
        if taken is not None:
            return _refuse(
                tx,
                who,
                user,
                f"your provider now calls you {who.username!r}, a name another account holds",
                client,
            )
    if user is not None and user.disabled:
        _set_groups(tx, user, who)
        return _refuse(tx, who, user, "this account is disabled in Berth", client)
    try:
        role = role_for(who.groups, rules, user.role if user is not None else None)
    except SignInRefused as refused:
        if user is not None:
            _set_groups(tx, user, who)
            revoked = revoke_credentials(tx, user, now)
            audit.record(
                tx, "berth", "user.credentials_revoked", f"user:{user.username}",
                {"reason": "not in an allowed group", "tokens_revoked": revoked}, client,
            )  # fmt: skip
        return _refuse(tx, who, user, str(refused), client)
    if user is None:
        user = User(
            username=who.username,
            password_hash=None,
            role=role,
            provider=who.provider,
            subject=who.subject,
            cluster_name=who.cluster_name,
        )
        try:
            with tx.begin_nested():
                tx.add(user)
                tx.flush()
        except IntegrityError:  # two first sign-ins of one person at once: one made it
            why = "your account was being made just now; sign in again"
            return _refuse(tx, who, None, why, client)
        audit.record(
            tx, "berth", "user.create", f"user:{who.username}",
            {"role": role, "provider": who.provider}, client,
        )  # fmt: skip
    else:
        changes = _refresh(user, who, role)
        if changes:
            audit.record(tx, "berth", "user.update", f"user:{user.username}", changes, client)
    user.signed_in_at = now
    _set_groups(tx, user, who)
    teams.from_groups(tx, who.provider, rules.teams_of(who.groups), client)
    return Outcome(user)


def _refresh(user: User, who: Claimed, role: str) -> dict[str, object]:
    """Bring the row in line with what the provider says now; the changes, for the audit."""
    changes: dict[str, object] = {}
    if user.username != who.username:
        changes["username"] = who.username
        user.username = who.username
    if user.cluster_name != who.cluster_name:
        changes["cluster_name"] = who.cluster_name
        user.cluster_name = who.cluster_name
    if user.role != role:
        changes["role"] = role
        user.role = role
    return changes


def _refuse(tx: Tx, who: Claimed, user: User | None, why: str, client: str | None) -> Outcome:
    audit.record(
        tx, who.username, "auth.sign_in_refused", f"user:{who.username}",
        {"provider": who.provider, "reason": why}, client,
    )  # fmt: skip
    return Outcome(user, why)


def _set_groups(tx: Tx, user: User, who: Claimed) -> None:
    """Replace the user's memberships with `who.groups` (groups are made as first seen)."""
    tx.execute(delete(GroupMember).where(GroupMember.user_id == user.id))
    if not who.groups:
        return
    tx.execute(
        insert(Group)
        .values([{"provider": who.provider, "name": g} for g in who.groups])
        .on_conflict_do_nothing(index_elements=["provider", "name"])
    )
    ids = tx.scalars(
        select(Group.id).where(Group.provider == who.provider, Group.name.in_(who.groups))
    )
    tx.execute(insert(GroupMember).values([{"group_id": i, "user_id": user.id} for i in ids]))


def groups_of(tx: Tx, user_id: int) -> list[str]:
    """The names of a user's groups as of their last sign-in."""
    q = (
        select(Group.name)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
        .order_by(Group.name)
    )
    return list(tx.scalars(q))


def members_of(tx: Tx, provider: str, group: str) -> list[str]:
    """The user names in a group (for teams, and for tests)."""
    q = (
        select(User.username)
        .join(GroupMember, GroupMember.user_id == User.id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.provider == provider, Group.name == group)
        .order_by(User.username)
    )
    return list(tx.scalars(q))
