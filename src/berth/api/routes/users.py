"""The caller, and user administration (admins only)."""

from __future__ import annotations

from fastapi import APIRouter

from berth.api import problems, schemas
from berth.api.deps import DB, Admin, Client, User
from berth.store import users
from berth.store.models import User as UserRow

router = APIRouter(tags=["users"])


def _public(u: UserRow) -> schemas.UserPublic:
    return schemas.UserPublic(
        username=u.username,
        role=u.role,
        disabled=u.disabled,
        created_at=u.created_at,
    )


@router.get("/me", operation_id="getMe")
def me(who: User, db: DB) -> schemas.UserPublic:
    with db.transaction() as tx:
        return _public(users.get(tx, who.username))


@router.get("/users", operation_id="listUsers", responses=problems.responses(403))
def list_(_: Admin, db: DB) -> list[schemas.UserPublic]:
    with db.transaction() as tx:
        return [_public(u) for u in users.list_all(tx)]


@router.post(
    "/users", status_code=201, operation_id="createUser", responses=problems.responses(403, 409)
)
def create(body: schemas.UserCreate, who: Admin, db: DB, client: Client) -> schemas.UserPublic:
    with db.transaction() as tx:
        user = users.create(
            tx, body.username, body.password, body.role, actor=who.username, client=client
        )
        return _public(user)


@router.patch(
    "/users/{username}", operation_id="updateUser", responses=problems.responses(403, 404, 409)
)
def update(
    username: str, body: schemas.UserUpdate, who: Admin, db: DB, client: Client
) -> schemas.UserPublic:
    with db.transaction() as tx:
        user = users.update(
            tx,
            username,
            role=body.role,
            disabled=body.disabled,
            password=body.password,
            actor=who.username,
            client=client,
        )
        return _public(user)
