"""Your notifications (the bell) and how you want them delivered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from berth.api import problems, schemas, views
from berth.api.deps import DB, Client, Config, Now, User
from berth.domain import notifications as rules
from berth.notify.webhook import Refused, checked_address
from berth.store import notifications
from berth.store.errors import Invalid

router = APIRouter(prefix="/me", tags=["notifications"])


@router.get("/notifications", operation_id="listMyNotifications")
def list_mine(who: User, db: DB) -> schemas.NotificationList:
    """Your latest 50 messages, newest first, and how many are unread in all."""
    with db.transaction() as tx:
        items = [views.notification(n) for n in notifications.listed(tx, who.id)]
        unread = notifications.unread(tx, who.id)
    return schemas.NotificationList(unread=unread, items=items)


@router.post(
    "/notifications/{notification_id}/read",
    operation_id="markMyNotificationRead",
    responses=problems.responses(404),
)
def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=schemas.MAX_ROW_ID)],
    who: User,
    db: DB,
    now: Now,
) -> schemas.NotificationList:
    """Mark one of your messages read (reading it again changes nothing)."""
    with db.transaction() as tx:
        if not notifications.owned(tx, who.id, notification_id):
            raise HTTPException(404, "no such notification")
        notifications.mark_read(tx, who.id, [notification_id], now)
    return list_mine(who, db)


@router.post("/notifications/read-all", operation_id="markMyNotificationsRead")
def mark_all_read(who: User, db: DB, now: Now) -> schemas.NotificationList:
    """Mark all your messages read."""
    with db.transaction() as tx:
        notifications.mark_read(tx, who.id, None, now)
    return list_mine(who, db)


@router.get("/notification-preferences", operation_id="getMyNotificationPreferences")
def get_preferences(who: User, db: DB, settings: Config) -> schemas.NotificationPreferencesPublic:
    """Your channels per kind, addresses and reminder lead times (the defaults until saved:
    the portal only, reminders 30 and 5 minutes before the end)."""
    with db.transaction() as tx:
        prefs = notifications.preferences(tx, who.id)
    return views.notification_preferences(prefs, email_available=settings.smtp_host is not None)


@router.put("/notification-preferences", operation_id="putMyNotificationPreferences")
def put_preferences(
    body: schemas.NotificationPreferencesUpdate,
    who: User,
    db: DB,
    settings: Config,
    now: Now,
    client: Client,
) -> schemas.NotificationPreferencesPublic:
    """Replace your preferences. A bad field is a 422 naming it, and nothing changes. A webhook
    URL must reach a public address (checked now, and again at each send) unless an admin
    allows its host (BERTH_WEBHOOK_ALLOW_HOSTS)."""
    try:
        prefs = rules.check_preferences(
            email=body.email,
            webhook_url=body.webhook_url,
            channels={str(k): list(v) for k, v in body.channels.items()},
            lead_minutes=body.lead_minutes,
        )
        if prefs.webhook_url is not None:
            checked_address(
                prefs.webhook_url, rules.AllowedHosts.parse(settings.webhook_allow_hosts)
            )
    except rules.PreferenceError as exc:
        raise Invalid(exc.field, f"{exc.field}: {exc.detail}") from exc
    except Refused as exc:
        raise Invalid("webhook_url", f"webhook_url: {exc}") from exc
    except OSError as exc:  # the name does not resolve
        raise Invalid("webhook_url", f"webhook_url: {exc}") from exc
    with db.transaction() as tx:
        notifications.save_preferences(tx, who.id, prefs, now, actor=who.username, client=client)
    return views.notification_preferences(prefs, email_available=settings.smtp_host is not None)
