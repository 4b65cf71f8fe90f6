#!/usr/bin/env bash
# `make demo`: until the runner lands, shows the registry: the list, one spec, one friendly error.
set -euo pipefail
cd "$(dirname "$0")/.."
OSIRIS=.venv/bin/osiris
echo "== osiris components list"
$OSIRIS components list
echo
echo "== osiris components spec mysql.extractor --format yaml (first lines)"
$OSIRIS components spec mysql.extractor --format yaml | head -20
echo
echo "== a friendly error: osiris components spec mysql.extrator"
$OSIRIS components spec mysql.extrator || true
