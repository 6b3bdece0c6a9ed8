"""The caller, and user administration (admins only)."""

from __future__ import annotations

from fastapi import APIRouter

from berth.api import problems, schemas, views
from berth.api.deps import DB, Admin, Client, Now, User
from berth.store import users

router = APIRouter(tags=["users"])


@router.get("/me", operation_id="getMe")
def me(who: User, db: DB) -> schemas.UserPublic:
    with db.transaction() as tx:
        return views.user(users.get(tx, who.username))


@router.get("/users", operation_id="listUsers", responses=problems.responses(403))
def list_(_: Admin, db: DB) -> list[schemas.UserPublic]:
    with db.transaction() as tx:
        return [views.user(u) for u in users.list_all(tx)]


@router.post(
    "/users", status_code=201, operation_id="createUser", responses=problems.responses(403, 409)
)
def create(body: schemas.UserCreate, who: Admin, db: DB, client: Client) -> schemas.UserPublic:
    with db.transaction() as tx:
        user = users.create(
            tx, body.username, body.password, body.role, actor=who.username, client=client
        )
        return views.user(user)


@router.patch(
    "/users/{username}", operation_id="updateUser", responses=problems.responses(403, 404, 409)
)
def update(
    username: str, body: schemas.UserUpdate, who: Admin, db: DB, now: Now, client: Client
) -> schemas.UserPublic:
    """Change a user's role, disabled flag or password (admins only).

    A new password or disabling the user revokes all their sessions and API tokens.
    """
    with db.transaction() as tx:
        user = users.update(
            tx,
            username,
            role=body.role,
            disabled=body.disabled,
            password=body.password,
            actor=who.username,
            now=now,
            client=client,
        )
        return views.user(user)
