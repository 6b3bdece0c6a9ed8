#!/bin/sh
# Regenerate src/api/schema.d.ts from the backend's OpenAPI schema (no server or database needed).
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-../.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" - > "$TMP/openapi.json" <<'PYEOF'
import json
from berth.api.app import create_app
from berth.config import Settings
from berth.store.db import Database

# The engine is created lazily: nothing connects, only the schema is rendered.
app = create_app(Settings(), Database("postgresql+psycopg://unused/unused"))
print(json.dumps(app.openapi(), indent=2, sort_keys=True))
PYEOF
npx --no-install openapi-typescript "$TMP/openapi.json" -o src/api/schema.d.ts
