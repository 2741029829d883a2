#!/bin/sh
# Rebuild models/handle_time/anonymous_bank (the handling-time model on the Anonymous Bank call log, January 1-24
# 1999; Jan 25-31 is the test week and is never fitted). Deterministic: a rebuild gives the same files.
#   models/handle_time/rebuild.sh            (from anywhere; DATA= and PY= override the defaults)
set -eu
cd "$(dirname "$0")/../.."
DATA="${DATA:-../shared/data/anonymous_bank_callcenter_1999/january_1999.tsv}"
PY="${PY:-.venv/bin/python}"
if [ ! -f "$DATA" ]; then
    # The log's licence is unclear, so it is not vendored under data/: without it the committed model stays.
    echo "handle-time model not rebuilt: the Anonymous Bank log is not at $DATA (set DATA=FILE); the committed model stays" >&2
    exit 0
fi
"$PY" -m cli handle-time fit "$DATA" --format anonymous-bank --before 1999-01-25 \
    --params models/handle_time/params.json --model models/handle_time/anonymous_bank
