"""Kubernetes quantities ("754Gi", "500m") as exact integers.

Booking math must be exact: memory is kept in bytes and CPU in millicores, so sums and
comparisons never drift the way floats would.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
# The binary units, largest first: `format_bytes` writes the first that divides exactly
BINARY_UNITS = tuple(sorted(_BINARY.items(), key=lambda unit: -unit[1]))
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$")


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity Berth accepts."""


def _parse(value: str | int | float) -> tuple[Decimal, str]:
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        if value < 0:
            raise QuantityError(f"{value!r} must not be negative")
        return Decimal(str(value)), ""
    match = _QUANTITY.match(value.strip())
    if not match:
        raise QuantityError(f"{value!r} is not a quantity (examples: 64Gi, 500m, 16)")
    try:
        return Decimal(match.group(1)), match.group(2)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise QuantityError(f"{value!r} is not a quantity") from exc


def parse_bytes(value: str | int | float) -> int:
    """Memory or storage in bytes: '128Gi' -> 137438953472; a bare number is bytes."""
    number, suffix = _parse(value)
    if suffix in _BINARY:
        factor = _BINARY[suffix]
    elif suffix in _DECIMAL:
        factor = _DECIMAL[suffix]
    else:
        raise QuantityError(
            f"{value!r}: unknown unit {suffix!r} (use Ki, Mi, Gi, Ti or k, M, G, T)"
        )
    result = number * factor
    if result != int(result):
        raise QuantityError(f"{value!r} is not a whole number of bytes")
    return int(result)


def parse_millicores(value: str | int | float) -> int:
    """CPU in millicores: '500m' -> 500, 16 -> 16000, '1.5' -> 1500."""
    number, suffix = _parse(value)
    if suffix == "m":
        result = number
    elif suffix == "":
        result = number * 1000
    else:
        raise QuantityError(f"{value!r}: CPU is a number of cores or millicores like 500m")
    if result != int(result):
        raise QuantityError(f"{value!r} is finer than one millicore")
    return int(result)


def format_bytes(n: int) -> str:
    """The largest binary unit that divides `n` exactly: 137438953472 -> '128Gi'."""
    for suffix, factor in BINARY_UNITS:
        if n and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)


def format_millicores(m: int) -> str:
    """16000 -> '16', 1500 -> '1500m'."""
    return str(m // 1000) if m % 1000 == 0 else f"{m}m"
