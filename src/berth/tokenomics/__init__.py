"""Tokenomics: dollars per million tokens, break-even against cloud APIs, sizing in reverse.

The pure model sits in the middle — `model` (annual cost, tokens, prices, sensitivity),
`breakeven` and `sizing` — plain stdlib algebra with no I/O, checked by import-linter
(pyproject.toml). Around it, the edges: `scenario` (YAML and request bodies, pydantic),
`report` (the JSON shape shared by the CLI, the API and the UI), `plot` (matplotlib) and
`cli` (`berth tokenomics`). The built-in scenarios are package data in `scenarios/`.

Measured utilization (booked over available GPU-hours) stays in `berth.domain.utilization`:
it is about a pool's bookings and the store builds its inputs, and the store depends only on
the domain.

This file imports nothing, so importing a pure module never loads an edge.
"""
