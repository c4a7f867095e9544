#!/usr/bin/env bash
# Run the test suite in the project's environment (created on first use); extra arguments go to pytest.
# --quick: the fast tier for the edit-test loop (every package, no full training runs): the tests not marked slow.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(bash scripts/setup_env.sh | tail -n 1)
if [ "${1:-}" = "--quick" ]; then
  shift
  set -- -m "not slow" "$@"
fi
exec "$venv/bin/python" -m pytest tests "$@"
