# The two commands: `make run` and `make test`. Everything they need beyond
# Rust and Python is installed into ./.venv from requirements.txt.

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed-requirements
PY := $(VENV)/bin/python
# cargo-lambda and zig are found by cargo through PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run token test lint unit stack-test clean-local

## make run: the whole API on http://127.0.0.1:9000 with moto on :5000.
run: $(VENV_STAMP)
	@$(PY) scripts/devstack.py run

## make token [TENANT=...] [PERMISSIONS=...]: a token for the running stack.
token: $(VENV_STAMP)
	@$(PY) scripts/devstack.py token $(if $(TENANT),--tenant "$(TENANT)") $(if $(filter undefined,$(origin PERMISSIONS)),,--permissions "$(PERMISSIONS)")

## make test: formatting, lints, unit tests, adapter tests against a fresh
## emulator, end-to-end tests over HTTP through `cargo lambda watch`.
test: lint unit stack-test

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit:
	cargo test --workspace --exclude secrets-tests --locked

stack-test: $(VENV_STAMP)
	$(PY) scripts/devstack.py test

# The venv is rebuilt whenever requirements.txt changes.
$(VENV_STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip check --disable-pip-version-check
	cp requirements.txt $@

clean-local:
	rm -rf .local
