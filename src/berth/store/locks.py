"""Advisory lock keys. Two-int keys: the first names the purpose, the second the object.

Keeping every key here makes collisions between purposes impossible by construction.
"""

from __future__ import annotations

import zlib

MIGRATION_LOCK = (1, 0)
POOL_BOOKING = 2  # (2, hashtext(pool)): one booking transaction per pool at a time
USER_BOOKING = 3  # (3, user id): per-user limits hold across pools
RECONCILER_LEADER = 4  # (4, reconciler_key(cluster)): one leader per cluster
WAITLIST_SWEEP = 5  # (5, hashtext(pool)): one waitlist sweeper per pool at a time


def reconciler_key(cluster: str) -> int:
    """The second key of a cluster's leader lock: 0 for `default` (the key every reconciler
    took before clusters had names, so an old and a new one never lead side by side), else a
    positive CRC-32 of the name (31 bits; never 0)."""
    if cluster == "default":
        return 0
    return zlib.crc32(cluster.encode()) & 0x7FFFFFFF or 1
