"""The reconciler binds a session to the owner as the cluster knows them: an OIDC user's
RoleBinding names the API server's prefix and claim (`oidc:carol`), so carol's own kubectl works
in her session's namespace and nowhere else, and the Berth name alone gets nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from kube_manifests import pod
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from test_reconciler import Clock, converge, make_reconciler

from berth.domain.identity import OIDC, Claimed, GroupRules
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.domain.session import namespace_name
from berth.kube.adapter import KubeCluster
from berth.store import identity, reservations, users
from berth.store.db import Database

pytestmark = [pytest.mark.kube, pytest.mark.usefixtures("kube")]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_an_oidc_owners_rolebinding_names_the_cluster_user_and_works_only_in_their_namespace(
    db: Database,
    kube: KubeCluster,
    api: client.ApiClient,
    impersonate: Callable[[str, list[str]], client.ApiClient],
    clock: Clock,
    eventually: Callable[..., Any],
) -> None:
    carol = Claimed(OIDC, "f3c1-carol", "carol", "carol", ("gpu-users",))
    with db.transaction() as tx:
        outcome = identity.sign_in(tx, carol, GroupRules(), clock.now)
        assert outcome.user is not None
        who = users.principal(outcome.user)
    end = (clock.now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    req = Request("c845a", clock.now, end, "mig-1g.24gb", 1, Mode.INTERACTIVE, 2000, 8 * 2**30)
    with db.transaction() as tx:
        rid = reservations.book(tx, who, req, BookingPolicy(), clock.now).id
    converge(make_reconciler(db, kube, clock), db, rid, "ACTIVE", eventually)
    namespace = namespace_name(rid)

    binding = client.RbacAuthorizationV1Api(api).read_namespaced_role_binding(
        "berth-admin", namespace
    )
    assert binding.subjects[0].kind == "User"
    assert binding.subjects[0].name == "oidc:carol"  # SessionConfig's default prefix

    as_carol = client.CoreV1Api(impersonate("oidc:carol", ["system:authenticated"]))
    eventually(lambda: as_carol.create_namespaced_pod(namespace, pod("carols")))
    for elsewhere in (
        lambda: as_carol.list_namespaced_pod("default"),
        lambda: as_carol.list_pod_for_all_namespaces(),
    ):
        with pytest.raises(ApiException) as refused:
            elsewhere()
        assert refused.value.status == 403
    berth_name_only = client.CoreV1Api(impersonate("carol", ["system:authenticated"]))
    with pytest.raises(ApiException) as refused:
        berth_name_only.list_namespaced_pod(namespace)
    assert refused.value.status == 403
