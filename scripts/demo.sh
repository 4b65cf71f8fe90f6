#!/usr/bin/env bash
# `make demo`: runs the quickstart pipeline end to end on this machine, no server needed:
# two CSV files -> a DuckDB join -> a CSV report. Prints where the report and the run record are.
set -euo pipefail
cd "$(dirname "$0")/.."
OSIRIS=.venv/bin/osiris
PIPELINE=examples/quickstart/pipeline.yaml

echo "== osiris oml validate $PIPELINE"
$OSIRIS oml validate "$PIPELINE" || true
echo
echo "== osiris run $PIPELINE"
$OSIRIS run "$PIPELINE"
echo
echo "== the report (examples/quickstart/out/revenue_by_country.csv)"
cat examples/quickstart/out/revenue_by_country.csv
echo
echo "Next: docs/running.md (run artifacts, secrets) and the README's walk from this demo to MySQL -> Supabase."
