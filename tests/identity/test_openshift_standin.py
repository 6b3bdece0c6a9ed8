"""OpenShift OAuth sign-in, against tests/openshift_standin.py: a STAND-IN that serves the
documented endpoints of OpenShift's OAuth server and `users/~`, not OpenShift itself."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from berth.api.app import create_app
from berth.config import Settings
from berth.store import identity, users
from berth.store.db import Database
from tests.conftest import free_port, serving
from tests.openshift_standin import OpenShiftStandIn

CLIENT = "system:serviceaccount:berth-system:berth-portal"
SA_TOKEN = "eyJhbGciOi-the-service-account-token"


@dataclass
class Cluster:
    berth: str
    standin: OpenShiftStandIn
    token_file: Path


@pytest.fixture
def cluster(db: Database, tmp_path: Path) -> Iterator[Cluster]:
    port = free_port()
    berth = f"http://127.0.0.1:{port}"
    standin = OpenShiftStandIn(CLIENT, SA_TOKEN, [f"{berth}/api/v1/auth/openshift"])
    token_file = tmp_path / "token"
    token_file.write_text(SA_TOKEN + "\n")
    with serving(standin.app()) as api_server:
        settings = Settings(
            data_dir=tmp_path,
            public_url=berth,
            openshift_api_url=api_server,
            openshift_client_id=CLIENT,
            openshift_client_secret_file=token_file,
            admin_groups="berth-admins",
            allowed_groups="gpu-users",
        )
        with serving(create_app(settings, db), port=port):
            yield Cluster(berth, standin, token_file)


def sign_in(client: httpx.Client, berth: str) -> httpx.Response:
    """Follow a browser's way: Berth → the OAuth server → Berth's callback."""
    r = client.get(f"{berth}/api/v1/auth/openshift/login")
    assert r.status_code == 303, r.text
    back = client.get(r.headers["location"])
    assert back.status_code == 302, back.text
    return client.get(back.headers["location"])


def test_an_openshift_user_signs_in_with_their_groups_and_cluster_name(
    cluster: Cluster, db: Database
) -> None:
    cluster.standin.add_user("Alice", "gpu-users", "berth-admins")
    cluster.standin.sign_in_as("Alice")
    with httpx.Client(timeout=30) as browser:
        r = sign_in(browser, cluster.berth)
        assert r.status_code == 303, r.text
        me = browser.get(f"{cluster.berth}/api/v1/me").json()
    assert (me["username"], me["role"], me["provider"]) == ("alice", "admin", "openshift")
    with db.transaction() as tx:
        alice = users.get(tx, "alice")
        assert alice.cluster_name == "Alice"  # the RoleBinding names the OpenShift user
        assert identity.groups_of(tx, alice.id) == ["berth-admins", "gpu-users"]  # no system:

    (query,) = cluster.standin.authorize_queries
    assert query["code_challenge_method"] == "S256"
    assert "code_verifier" not in query  # the verifier went only to the token endpoint
    assert query["redirect_uri"] == f"{cluster.berth}/api/v1/auth/openshift/callback"
    assert query["scope"] == "user:info"


def test_an_openshift_user_outside_the_allowed_groups_is_refused(cluster: Cluster) -> None:
    cluster.standin.add_user("mallory", "other-team")
    cluster.standin.sign_in_as("mallory")
    with httpx.Client(timeout=30) as browser:
        r = sign_in(browser, cluster.berth)
    assert r.status_code == 403
    assert "not in a group allowed to use Berth" in r.text


def test_a_wrong_service_account_token_is_refused_in_words(cluster: Cluster) -> None:
    cluster.standin.add_user("bob", "gpu-users")
    cluster.standin.sign_in_as("bob")
    cluster.token_file.write_text("an-old-rotated-token")
    with httpx.Client(timeout=30) as browser:
        r = sign_in(browser, cluster.berth)
    assert r.status_code == 403
    assert "OpenShift&#x27;s OAuth server refused the sign-in code (unauthorized_client" in r.text
    cluster.token_file.unlink()
    with httpx.Client(timeout=30) as browser:
        r = sign_in(browser, cluster.berth)
    assert r.status_code == 502
    assert "BERTH_OPENSHIFT_CLIENT_SECRET_FILE" in r.text


def test_the_callback_is_only_berths_own_path(cluster: Cluster) -> None:
    """The ServiceAccount's annotation admits Berth's callback; the stand-in, as OpenShift,
    refuses any other redirect URI, so a crafted authorize link cannot send a code elsewhere."""
    cluster.standin.add_user("eve", "gpu-users")
    cluster.standin.sign_in_as("eve")
    with httpx.Client(timeout=30) as browser:
        start = browser.get(f"{cluster.berth}/api/v1/auth/openshift/login")
        url = urlsplit(start.headers["location"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        query["redirect_uri"] = "https://evil.example/api/v1/auth/openshift/callback"
        r = browser.get(f"{url.scheme}://{url.netloc}{url.path}", params=query)
    assert r.status_code == 400
