"""Who a person is, as the company's identity provider says: pure rules of signing in.

A provider (OIDC or OpenShift OAuth) vouches for a person: a stable subject, a name, the
groups they are in, and the name the cluster's API server knows them by. These rules decide
whether they may sign in, with which role, and what Kubernetes user a session's RoleBinding
names for them. Nothing here talks to a provider or the database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

LOCAL = "local"  # a password account of Berth's own (break-glass)
OIDC = "oidc"
OPENSHIFT = "openshift"
PROVIDERS = (LOCAL, OIDC, OPENSHIFT)
FEDERATED = (OIDC, OPENSHIFT)

# A federated user's Berth name: the provider's name, lower-cased; wider than a local name
# (mail addresses are common) but still safe in a URL path, a label value and the audit log.
FEDERATED_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@+-]{0,63}$")
MAX_GROUP = 255
MAX_GROUPS = 500  # more than this from one provider is refused, not truncated silently


class SignInRefused(Exception):
    """The provider vouched for the person, but Berth does not let them in; says why."""


@dataclass(frozen=True)
class Claimed:
    """What a provider vouched for, after its token or API answer was checked."""

    provider: str
    subject: str  # stable: OIDC `sub`, OpenShift user uid
    username: str  # Berth's name for them (normalised by `username_from`)
    cluster_name: str  # the name the cluster knows (before any prefix)
    groups: tuple[str, ...]


@dataclass(frozen=True)
class GroupRules:
    """BERTH_ADMIN_GROUPS and BERTH_ALLOWED_GROUPS. Empty allowed groups: anyone the provider
    signs in may enter. Empty admin groups: the role is Berth's own (admins change it)."""

    admin_groups: frozenset[str] = frozenset()
    allowed_groups: frozenset[str] = frozenset()
    # BERTH_TEAM_GROUPS: groups (names or shell patterns like `team-*`) that become teams at
    # a member's sign-in (docs/teams.md); empty: admins make teams
    team_groups: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, admin: str, allowed: str, teams: str = "") -> GroupRules:
        return cls(
            frozenset(split_names(admin)),
            frozenset(split_names(allowed)),
            frozenset(split_names(teams)),
        )

    def teams_of(self, groups: Iterable[str]) -> list[str]:
        """The groups among `groups` that become teams."""
        return sorted(g for g in groups if any(fnmatchcase(g, p) for p in self.team_groups))


TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def team_name(group: str) -> str | None:
    """A team's name made from a group's: lower case, other characters as `-`, at most 64;
    None when nothing usable is left."""
    name = re.sub(r"[^a-z0-9._-]+", "-", group.strip().lower()).strip("-._")[:64]
    return name if TEAM_NAME.match(name) else None


def split_names(text: str) -> list[str]:
    """A comma-separated setting as a list of names, blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def role_for(groups: Iterable[str], rules: GroupRules, current: str | None) -> str:
    """The role of someone in `groups`; raises SignInRefused if the groups do not let them in.

    An admin group lets its members in even when it is not listed among the allowed ones.
    Without admin groups configured, the role stays what it was (`current`, "user" if new).
    """
    member = set(groups)
    is_admin = bool(member & rules.admin_groups)
    if rules.allowed_groups and not is_admin and not member & rules.allowed_groups:
        allowed = ", ".join(sorted(rules.allowed_groups | rules.admin_groups))
        raise SignInRefused(
            f"you are not in a group allowed to use Berth ({allowed}); "
            "ask your identity administrator to add you"
        )
    if rules.admin_groups:
        return "admin" if is_admin else "user"
    return current or "user"


def username_from(value: object, source: str) -> str:
    """A Berth user name from the provider's value (lower-cased), or a refusal naming `source`."""
    if not isinstance(value, str) or not value.strip():
        raise SignInRefused(f"the provider sent no user name ({source} is missing or empty)")
    name = value.strip().lower()
    if not FEDERATED_USERNAME.match(name):
        raise SignInRefused(
            f"the user name {name[:80]!r} ({source}) cannot be a Berth user name: 1-64 "
            "characters of letters, digits, '.', '_', '@', '+' or '-', starting with a letter "
            "or digit"
        )
    return name


def groups_from(value: object, source: str) -> tuple[str, ...]:
    """The group names of a claim or API answer: a list of strings (absent: none)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise SignInRefused(f"{source} must be a list of group names")
    names = sorted({g.strip() for g in value if g.strip()})
    if len(names) > MAX_GROUPS:
        raise SignInRefused(f"{source} lists {len(names)} groups; at most {MAX_GROUPS}")
    too_long = [g for g in names if len(g) > MAX_GROUP]
    if too_long:
        raise SignInRefused(f"{source}: a group name is longer than {MAX_GROUP} characters")
    return tuple(names)


def cluster_user(provider: str, username: str, cluster_name: str | None, oidc_prefix: str) -> str:
    """The Kubernetes user a session's RoleBinding names for its owner.

    OIDC: the API server's `--oidc-username-prefix` (or its AuthenticationConfiguration's
    `claimMappings.username.prefix`) before the claim's value, exactly as the API server builds
    the user name. OpenShift: the OpenShift user name, which is the cluster's. A local account:
    its Berth name (the cluster has never heard of it unless someone made it so).
    """
    if provider == OIDC and cluster_name:
        return oidc_prefix + cluster_name
    if provider == OPENSHIFT and cluster_name:
        return cluster_name
    return username
