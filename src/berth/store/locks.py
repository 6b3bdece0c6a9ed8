"""Advisory lock keys. Two-int keys: the first names the purpose, the second the object.

Keeping every key here makes collisions between purposes impossible by construction.
"""

from __future__ import annotations

MIGRATION_LOCK = (1, 0)
POOL_BOOKING = 2  # (2, hashtext(pool)): one booking transaction per pool at a time
USER_BOOKING = 3  # (3, user id): per-user limits hold across pools
RECONCILER_LEADER = 4  # (4, 0 today; a pool hash once reconcilers shard by pool)
