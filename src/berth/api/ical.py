"""Reservations as iCalendar (RFC 5545), for the private feed and the one-reservation download.

Each reservation is a VEVENT whose UID is its id (stable across changes), whose
LAST-MODIFIED and DTSTAMP are its `updated_at`, and whose SEQUENCE is the whole seconds from
its creation to its last change: every change (extend, cancel, release, start, end) moves
`updated_at` forward, so SEQUENCE never goes down and grows with each change a calendar app
could have seen. Canceled and failed reservations are STATUS:CANCELLED; a released one ends
when it was released (its `end_at` moved). Built from the rows as read, so output is the same
for the same rows (no clock read here).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from icalendar import Calendar, Event

PRODID = "-//Berth//GPU booking//EN"
MEDIA_TYPE = "text/calendar; charset=utf-8"


class Booked(Protocol):
    """What a VEVENT is made of: a Reservation row or a plain row with these columns."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def status(self) -> str: ...
    @property
    def pool(self) -> str: ...
    @property
    def start_at(self) -> datetime: ...
    @property
    def end_at(self) -> datetime: ...
    @property
    def gpu_kind(self) -> str: ...
    @property
    def gpu_count(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


_CANCELLED = frozenset({"CANCELED", "FAILED"})


def uid(reservation_id: uuid.UUID) -> str:
    return f"reservation-{reservation_id}@berth"


def sequence(r: Booked) -> int:
    return max(0, int((r.updated_at - r.created_at).total_seconds()))


def event(r: Booked) -> Event:
    ev = Event()
    ev.add("uid", uid(r.id))
    ev.add("dtstamp", r.updated_at)
    ev.add("last-modified", r.updated_at)
    ev.add("created", r.created_at)
    ev.add("sequence", sequence(r))
    ev.add("dtstart", r.start_at)
    ev.add("dtend", r.end_at)
    what = f"{r.gpu_count} x {r.gpu_kind} on {r.pool}"
    note = {"CANCELED": " (canceled)", "FAILED": " (failed)"}.get(r.status, "")
    if r.status == "COMPLETED" and r.reason == "released":
        note = " (released early)"
    ev.add("summary", f"Berth: {what}{note}")
    lines = [f"Reservation {r.id}", f"{what}, {r.mode}", f"Status: {r.status}"]
    if r.reason:
        lines.append(f"Reason: {r.reason}")
    ev.add("description", "\n".join(lines))
    ev.add("status", "CANCELLED" if r.status in _CANCELLED else "CONFIRMED")
    ev.add("transp", "OPAQUE")
    return ev


def calendar(reservations: Iterable[Booked], name: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    for r in reservations:
        cal.add_component(event(r))
    return bytes(cal.to_ical())
