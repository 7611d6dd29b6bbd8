# The two commands: `make run` and `make test`. Everything they need beyond
# Rust and Python is installed into ./.venv from requirements.txt.

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed-requirements
PY := $(VENV)/bin/python
# checkov alone, from requirements-scan.txt: its pins (boto3 1.35) and
# aws-sam-cli's (boto3 1.43) cannot share one environment.
SCAN_VENV := .venv-scan
SCAN_STAMP := $(SCAN_VENV)/.installed-requirements
# cargo-lambda, zig and sam are found through PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# SAM CLI: no telemetry calls, and a region for its offline validation.
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: run token resolve test lint check-boundaries check-template check-workflows check-openapi unit stack-test test-artifacts bench build sam-build deploy smoke clean-local

## make run: the whole API on http://127.0.0.1:9000 with moto on :5000.
run: $(VENV_STAMP)
	@$(PY) -m tools.local_stack.devstack run

## make token [TENANT=...] [PERMISSIONS=...]: a token for the running stack.
token: $(VENV_STAMP)
	@$(PY) -m tools.local_stack.devstack token $(if $(TENANT),--tenant "$(TENANT)") $(if $(filter undefined,$(origin PERMISSIONS)),,--permissions "$(PERMISSIONS)")

## make resolve TAG=... [TENANT=...]: a secret's plaintext from the running
## stack, through the resolve route with a SigV4-signed GET, as a trusted
## internal system gets it (the gateway shim plays IAM).
resolve: $(VENV_STAMP)
	@test -n "$(TAG)" || { echo "make resolve needs TAG=<tag or id>"; exit 2; }
	@$(PY) -m tools.local_stack.devstack resolve $(if $(TENANT),--tenant "$(TENANT)") "$(TAG)"

## make test: formatting, lints, the deployment template's and the OpenAPI
## document's checks, unit tests, adapter tests against a fresh emulator,
## end-to-end tests and schemathesis conformance runs over HTTP, and the
## arm64 build that ships, run as built (test-artifacts).
test: lint check-template check-workflows check-openapi unit stack-test test-artifacts

# Rust (with the crate boundary), then the Python tooling (tools/,
# settings in pyproject.toml).
lint: check-boundaries $(VENV_STAMP)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	# --all-targets leaves out targets with `test = false`: the suites.
	cargo clippy --workspace --locked --test adapters --test e2e -- -D warnings
	$(VENV)/bin/ruff check tools
	$(VENV)/bin/ruff format --check tools
	$(PY) -m mypy

# The domain crate stays independent of AWS and Lambda (docs/design.md):
# `cargo tree` of what it builds with must show no SDK or runtime crate.
check-boundaries:
	@tree=$$(cargo tree -p secrets-domain -e normal,build --prefix none --locked) || exit 1; \
	if printf '%s\n' "$$tree" | grep -E '^(aws-(sdk|smithy|config|runtime|types|sigv4)|lambda_)'; then \
	  echo "secrets-domain depends on the AWS SDK or the Lambda runtime (above)"; exit 1; \
	fi

# Offline: no AWS account or network needed. Three views of the template:
# cfn-lint transforms SAM itself, so with the serverless rules it lints what
# CloudFormation will get; checkov scans template.yaml as written, where
# every suppression sits next to its resource with its reason (SAM does not
# carry Metadata onto the resources it generates, such as the stage, so a
# scan of the transformed template would report what nothing can annotate);
# tools.checks.template holds the transformed template to our own rules.
# deploy/pipeline.yaml (the pipeline's roles and bucket) gets cfn-lint,
# checkov and its own rules (tools.checks.pipeline).
# --skip-download: checkov fetches nothing (no guidelines from its vendor).
check-template: $(VENV_STAMP) $(SCAN_STAMP)
	sam validate --template template.yaml
	sam validate --lint --template template.yaml
	cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
	$(SCAN_VENV)/bin/checkov --file template.yaml --framework cloudformation --quiet --compact --skip-download
	$(PY) -m tools.checks.template
	cfn-lint deploy/pipeline.yaml
	$(SCAN_VENV)/bin/checkov --file deploy/pipeline.yaml --framework cloudformation --quiet --compact --skip-download
	$(PY) -m tools.checks.pipeline
	$(PY) -m unittest discover --start-directory tools --top-level-directory . --pattern 'test_*.py'

# The GitHub workflows, offline: valid against GitHub's workflow schema (as
# vendored by check-jsonschema) and clean under zizmor's audits (pinned
# actions, least permissions, no template injection, no leaked credentials).
check-workflows: $(SCAN_STAMP)
	$(SCAN_VENV)/bin/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(SCAN_VENV)/bin/zizmor --offline --persona pedantic .github/workflows

# Our OpenAPI document is built from the upstream one; the committed copy
# must be what the build gives, and valid.
check-openapi: $(VENV_STAMP)
	$(PY) -m tools.checks.openapi --check
	openapi-spec-validator openapi/cortex-secrets.json

# The adapter and end-to-end suites need the stack, so they are not built or
# run by default (`test = false` in tests/Cargo.toml), but their package is
# selected: their dependencies are built with the same features, and the
# stack test compiles only the suites instead of the AWS SDK once more.
unit:
	cargo test --workspace --locked

stack-test: $(VENV_STAMP)
	$(PY) -m tools.local_stack.devstack test

## make bench: every function measured side by side with its floor (AWS
## calls, capacity, cold start, CPU, memory, size, price); one table, and
## target/bench/report.json. About 13 minutes from a clean clone on 2 cores.
bench: $(VENV_STAMP)
	$(PY) -m tools.bench

FUNCTIONS := list-secrets get-secret create-secret update-secret delete-secret resolve-secret reseal-secret publish-changes

## make build: release builds of every function for Lambda on arm64, in
## target/lambda/<function>/bootstrap.
build: $(VENV_STAMP)
	cargo lambda build --release --arm64 --locked $(addprefix --bin ,$(FUNCTIONS))
	@ls -l $(foreach f,$(FUNCTIONS),target/lambda/$(f)/bootstrap)

## make deploy [STAGE=staging|prod] JWT_ISSUER=... (JWT_JWKS_URL=... |
## JWT_PUBLIC_KEY_PEM=...) [PARAMETER_OVERRIDES='Name=value ...']: sam build
## and sam deploy of samconfig.toml's config environment STAGE (default: the
## `default` one, stack cortex-secrets), to the AWS account and region of the
## current credentials; the stage's parameters and the issuer's are composed
## by tools/deploy.py.
deploy: $(VENV_STAMP)
	$(PY) -m tools.deploy $(or $(STAGE),default) $(if $(BUILT),--built)

## make sam-build: sam build of every function (arm64) into .aws-sam/build,
## once; `make deploy BUILT=1` deploys that build (the pipeline does).
sam-build: $(VENV_STAMP)
	sam build --template template.yaml

# qemu runs the arm64 binaries on any host; the binaries link glibc
# dynamically, so qemu -L lends them Debian's arm64 loader and libc.
QEMU_AARCH64 := /usr/bin/qemu-aarch64-static
ARM64_SYSROOT := /usr/aarch64-linux-gnu
ARM64_LOADER := $(ARM64_SYSROOT)/lib/ld-linux-aarch64.so.1
# Installed once, when missing; the package lists are fetched only if the
# install fails without them (a fresh container has none). As root, as in
# CI; elsewhere APT_GET='sudo apt-get'.
APT_GET ?= apt-get
APT_INSTALL = DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y --no-install-recommends $(1) || \
	{ $(APT_GET) update && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y --no-install-recommends $(1); }

## make test-artifacts: every function as `make sam-build` built it, run
## under qemu-aarch64, each behind a local Lambda Runtime API with the
## environment template.yaml gives it, against moto and a local Lambda
## Invoke API: they must start and answer a create, list, get, update,
## versions list, resolve, restore (the reseal function invoked by the
## update function), batch resolve and delete, and the publish function a
## stream batch holding no change (tools/artifacts).
test-artifacts: sam-build $(VENV_STAMP) $(QEMU_AARCH64) $(ARM64_LOADER)
	$(PY) -m tools.artifacts --qemu $(QEMU_AARCH64) --sysroot $(ARM64_SYSROOT)

$(QEMU_AARCH64):
	$(call APT_INSTALL,qemu-user-static)

$(ARM64_LOADER):
	$(call APT_INSTALL,libc6-arm64-cross)

## make smoke API_URL=https://... TOKEN=...: the end-to-end smoke tests
## against a deployment (the stack output ApiUrl, and a token it accepts).
smoke:
	@test -n "$(API_URL)" -a -n "$(TOKEN)" || { echo "usage: make smoke API_URL=https://... TOKEN=..."; exit 2; }
	@# Not echoed: the command line holds the token.
	@E2E_BASE_URL="$(API_URL)" E2E_TOKEN="$(TOKEN)" cargo test --workspace --test e2e --locked smoke_

# The venvs are rebuilt whenever their requirements change.
$(VENV_STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip check --disable-pip-version-check
	cp requirements.txt $@

$(SCAN_STAMP): requirements-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	$(SCAN_VENV)/bin/pip check --disable-pip-version-check
	cp requirements-scan.txt $@

clean-local:
	rm -rf .local
