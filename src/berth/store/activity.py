"""The measured use of sessions (`session_activity`): written by the reconciler's collector,
read by the idle policy (and the cost ledger)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from berth.domain.idle import Sample
from berth.store.db import Tx
from berth.store.models import SessionActivity


@dataclass(frozen=True)
class Measured:
    """One session's sample interval ending at `at`, as the collector measured it."""

    reservation_id: uuid.UUID
    at: datetime
    seconds: int
    gpu_active: float | None
    tokens_prompt: int | None
    tokens_generated: int | None


def record(tx: Tx, rows: Iterable[Measured]) -> int:
    """Insert the samples (one statement; a sample already there is left as it is)."""
    values = [
        {
            "reservation_id": m.reservation_id,
            "at": m.at,
            "seconds": m.seconds,
            "gpu_active": m.gpu_active,
            "tokens_prompt": m.tokens_prompt,
            "tokens_generated": m.tokens_generated,
        }
        for m in rows
    ]
    if not values:
        return 0
    tx.execute(insert(SessionActivity).values(values).on_conflict_do_nothing())
    return len(values)


def samples(
    tx: Tx, reservation_ids: Collection[uuid.UUID], since: datetime
) -> dict[uuid.UUID, list[Sample]]:
    """Each session's samples ending after `since`, oldest first, as the domain reads them."""
    out: dict[uuid.UUID, list[Sample]] = {rid: [] for rid in reservation_ids}
    if not reservation_ids:
        return out
    q = (
        select(SessionActivity)
        .where(
            SessionActivity.reservation_id.in_(list(reservation_ids)),
            SessionActivity.at > since,
        )
        .order_by(SessionActivity.at)
    )
    for row in tx.scalars(q):
        tokens = None
        if row.tokens_prompt is not None or row.tokens_generated is not None:
            tokens = (row.tokens_prompt or 0) + (row.tokens_generated or 0)
        out[row.reservation_id].append(Sample(row.at, row.seconds, row.gpu_active, tokens))
    return out
