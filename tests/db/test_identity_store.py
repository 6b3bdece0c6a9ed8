"""Users of identity providers in the store: found by (provider, subject), never taken over by
name; renamed when the provider renames them; groups replaced at each sign-in; sign-in attempts
used once and only while fresh."""

from __future__ import annotations

from datetime import datetime, timedelta

from berth.domain.identity import OIDC, OPENSHIFT, Claimed, GroupRules
from berth.store import audit, identity, sign_in_attempts, users
from berth.store.db import Database
from berth.store.sign_in_attempts import Attempt

RULES = GroupRules.parse("admins", "staff")


def claimed(subject: str, name: str, *groups: str, provider: str = OIDC) -> Claimed:
    return Claimed(provider, subject, name, name, groups)


def test_a_name_held_by_another_account_is_refused_not_taken_over(
    db: Database, now: datetime
) -> None:
    with db.transaction() as tx:
        users.create(tx, "root", "pw-root-long-enough", "admin", actor="test")
        ivy = identity.sign_in(tx, claimed("s-ivy", "ivy", "staff"), RULES, now).user
        assert ivy is not None
    with db.transaction() as tx:
        # someone at the provider calls themselves "root" (or the OpenShift user "ivy")
        out = identity.sign_in(tx, claimed("s-evil", "root", "admins"), RULES, now)
        assert out.refusal == (
            "the user name 'root' already belongs to another account (local); "
            "an admin must rename or remove it first"
        )
        other = identity.sign_in(tx, claimed("u-1", "ivy", "staff", provider=OPENSHIFT), RULES, now)
        assert other.refusal is not None
        assert "already belongs to another account (oidc)" in other.refusal
    with db.transaction() as tx:
        assert users.get(tx, "root").provider == "local"
        refusals = [e for e in audit.query(tx) if e.action == "auth.sign_in_refused"]
    assert len(refusals) == 2


def test_a_renamed_person_keeps_their_account_and_their_groups_follow_the_provider(
    db: Database, now: datetime
) -> None:
    with db.transaction() as tx:
        first = identity.sign_in(tx, claimed("s-jo", "jo", "staff", "ml"), RULES, now).user
        assert first is not None
        jo_id = first.id
    later = now + timedelta(days=3)
    with db.transaction() as tx:
        again = identity.sign_in(tx, claimed("s-jo", "joanna", "staff", "admins"), RULES, later)
        assert again.refusal is None
        assert again.user is not None
        assert (again.user.id, again.user.username, again.user.role) == (jo_id, "joanna", "admin")
        assert identity.groups_of(tx, jo_id) == ["admins", "staff"]
        assert identity.members_of(tx, OIDC, "ml") == []


def test_an_attempt_is_taken_once_and_only_while_fresh(db: Database, now: datetime) -> None:
    attempt = Attempt(OIDC, "nonce", "verifier" * 6, "/calendar")
    with db.transaction() as tx:
        sign_in_attempts.begin(tx, "state-1", attempt, now)
        sign_in_attempts.begin(tx, "state-2", attempt, now)
    with db.transaction() as tx:
        assert sign_in_attempts.take(tx, "state-1", now) == attempt
        assert sign_in_attempts.take(tx, "state-1", now) is None  # used
        assert sign_in_attempts.take(tx, "unknown", now) is None
        late = now + sign_in_attempts.LIFETIME + timedelta(seconds=1)
        assert sign_in_attempts.take(tx, "state-2", late) is None  # expired
