"""Who may sign in with which role, what a provider's names become, where `next` may lead."""

from __future__ import annotations

import pytest

from berth.api.identity.common import Flow, safe_next
from berth.api.identity.openshift import claimed
from berth.domain.identity import (
    GroupRules,
    SignInRefused,
    groups_from,
    role_for,
    username_from,
)

RULES = GroupRules.parse(" berth-admins ,", "gpu-users, ml-team")


def test_groups_map_to_roles_and_the_allowed_groups_let_people_in() -> None:
    assert role_for(["gpu-users"], RULES, None) == "user"
    assert role_for(["ml-team", "berth-admins"], RULES, "user") == "admin"
    assert role_for(["berth-admins"], RULES, None) == "admin"  # admins need no other group
    assert role_for(["gpu-users"], RULES, "admin") == "user"  # out of the admin group: demoted
    with pytest.raises(SignInRefused, match=r"not in a group allowed .*berth-admins, gpu-users"):
        role_for(["other-team"], RULES, "user")


def test_without_admin_groups_the_role_is_berths_and_without_allowed_groups_anyone_enters() -> None:
    open_rules = GroupRules.parse("", "")
    assert role_for([], open_rules, None) == "user"
    assert role_for([], open_rules, "admin") == "admin"  # promoted by an admin in Berth


def test_provider_names_become_berth_names_or_are_refused_in_words() -> None:
    assert username_from(" Alice.Smith@Example.org ", "claim") == "alice.smith@example.org"
    with pytest.raises(SignInRefused, match="no user name"):
        username_from(None, "claim 'preferred_username'")
    with pytest.raises(SignInRefused, match="cannot be a Berth user name"):
        username_from("kube:admin", "the OpenShift user name")
    assert groups_from(["b", "a", "a", " "], "claim") == ("a", "b")
    assert groups_from("solo", "claim") == ("solo",)
    with pytest.raises(SignInRefused, match="must be a list of group names"):
        groups_from({"a": 1}, "claim 'groups'")


def test_an_openshift_user_answer_gives_the_cluster_name_and_real_groups() -> None:
    who = claimed(
        {
            "kind": "User",
            "metadata": {"name": "Alice", "uid": "0c5e"},
            "groups": ["ml-team", "system:authenticated:oauth"],
        }
    )
    assert (who.subject, who.username, who.cluster_name) == ("0c5e", "alice", "Alice")
    assert who.groups == ("ml-team",)


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        (None, "/"),
        ("/calendar", "/calendar"),
        ("/reservations?x=1&y=%2F", "/reservations?x=1&y=%2F"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("javascript:alert(1)", "/"),
        ("/" + "a" * 600, "/"),
    ],
)
def test_next_is_a_path_of_the_portal_or_the_front_page(asked: str | None, lands: str) -> None:
    assert safe_next(asked) == lands


def test_each_flow_has_fresh_secrets_and_a_pkce_verifier_of_legal_length() -> None:
    a, b = Flow.new(), Flow.new()
    assert len({a.state, a.nonce, b.state, b.nonce}) == 4
    assert 43 <= len(a.code_verifier) <= 128
