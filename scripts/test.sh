#!/usr/bin/env bash
# Run the whole test suite in the project's environment (created on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(bash scripts/setup_env.sh | tail -n 1)
exec "$venv/bin/python" -m pytest tests "$@"
