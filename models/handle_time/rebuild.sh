#!/bin/sh
# Rebuild models/handle_time/anonymous_bank (the handling-time model on the Anonymous Bank call log, January 1-24
# 1999; Jan 25-31 is the test week and is never fitted). Deterministic: a rebuild gives the same files.
#   models/handle_time/rebuild.sh            (from anywhere; DATA= and PY= override the defaults)
set -eu
cd "$(dirname "$0")/../.."
DATA="${DATA:-../shared/data/anonymous_bank_callcenter_1999/january_1999.tsv}"
PY="${PY:-.venv/bin/python}"
"$PY" -m cli.main handle-time fit "$DATA" --format anonymous-bank --before 1999-01-25 \
    --params models/handle_time/params.json --model models/handle_time/anonymous_bank
