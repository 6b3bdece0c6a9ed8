"""Several delivery workers at once over many notifications never send one twice: each
notification reaches the receiver exactly once with success, whatever the interleaving, while
the receiver fails a random share of requests (so retries run concurrently too)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import select, text

from berth.domain.notifications import AllowedHosts, Preferences
from berth.notify.loop import Deliverer
from berth.store import notifications, users
from berth.store.db import Database
from berth.store.deliveries import RetryPolicy
from berth.store.models import NotificationDelivery
from tests.notify.conftest import Receiver

ROUNDS = 3


def test_workers_at_once_send_each_notification_once(
    db: Database, now: datetime, receiver: Receiver
) -> None:
    policy = RetryPolicy(max_attempts=50, base=timedelta(seconds=1), cap=timedelta(seconds=1))
    allowed = AllowedHosts.parse("127.0.0.1")
    prefs = Preferences(webhook_url=receiver.url, channels={"ready": ("webhook",)})
    with db.transaction() as tx:
        uid = users.create(tx, "alice", "pw-alice-long-enough", "user", actor="t").id
        notifications.save_preferences(tx, uid, prefs, now)
    clock_lock = threading.Lock()
    moment = [now + timedelta(days=3650)]

    def clock() -> datetime:
        with clock_lock:
            return moment[0]

    expected: list[str] = []
    for round_ in range(ROUNDS):
        rng = random.Random(round_)
        receiver.rng = random.Random(round_ + 100)
        receiver.fail_share = rng.choice([0.0, 0.2, 0.4])
        count = rng.randint(40, 90)
        workers = rng.randint(3, 6)
        titles = [f"r{round_}-n{i}" for i in range(count)]
        with db.transaction() as tx:
            for title in titles:
                notifications.notify(tx, user_id=uid, kind="ready", title=title, body="b")
        expected += titles
        deliverers = [Deliverer(db, None, allowed, policy, clock=clock) for _ in range(workers)]

        def work(d: Deliverer, seed: int) -> None:
            local = random.Random(seed)
            for _ in range(400):
                d.deliver_once(limit=local.randint(1, 8))
                with db.transaction() as tx:
                    left = tx.scalar(
                        text("SELECT count(*) FROM notification_deliveries WHERE state = 'pending'")
                    )
                if not left:
                    return
                with clock_lock:  # retries become due
                    moment[0] += timedelta(seconds=1)

        with ThreadPoolExecutor(workers) as pool:
            futures = [pool.submit(work, d, round_ * 10 + i) for i, d in enumerate(deliverers)]
        for f in futures:
            f.result()

        with db.transaction() as tx:
            states = Counter(tx.scalars(select(NotificationDelivery.state)))
        assert states == Counter({"sent": len(expected)}), (round_, states)
        delivered = Counter(str(p["text"]).split("\n")[0] for p in receiver.accepted())
        assert delivered == Counter(expected), round_  # every one, exactly once
        failures = sum(1 for s in receiver.answered if s != 200)
        with db.transaction() as tx:
            recorded = sum(len(d.errors) for d in tx.scalars(select(NotificationDelivery)))
        assert recorded == failures  # every failed attempt the receiver saw is recorded
