# Every target creates the virtual environment on first use, so a fresh clone needs only `make demo` / `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: demo test lint bench clean env tools lock package browser sentinel checkov terraform-check

env: $(STAMP)

# Locked, hash-checked install: requirements.lock is generated from pyproject.toml (see `make lock`). uv (itself
# pinned by hash in tools/uv.lock) installs it: a third of pip's time, which counts against CI's 10 minutes.
UV := $(BIN)/uv pip install --quiet --python $(BIN)/python
export UV_NATIVE_TLS := 1
$(STAMP): requirements.lock pyproject.toml tools/uv.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r tools/uv.lock
	$(UV) --require-hashes --no-deps -r requirements.lock
	$(UV) --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/egress demo --out $(DEMO_OUT)

# The report is tested in a real browser: Debian's Chromium and chromedriver, installed where missing.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }

test: $(STAMP) browser sentinel terraform-check checkov
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 2 --dist loadscope --no-loadscope-reorder -q --durations=15

# The Sentinel policies (sentinel/): `sentinel test` runs their pass/fail cases against their tfplan/v2 mocks. The
# Sentinel CLI is not in the registries this project installs from; without it on PATH this says so and succeeds.
sentinel:
	@if command -v sentinel >/dev/null 2>&1; then \
	  cd sentinel && sentinel test; \
	else \
	  policies=$$(grep -c '^policy "' sentinel/sentinel.hcl); \
	  cases=$$(find sentinel/test -name '*.hcl' | wc -l | tr -d ' '); \
	  echo "sentinel: CLI not on PATH, skipped \`sentinel test\` ($$policies policies, $$cases test cases not run)"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff format --check .

# `terraform fmt -check` and `terraform validate` of every module and root when terraform is on PATH (otherwise it
# says it skipped them): tools/terraform_check.sh.
terraform-check:
	@bash tools/terraform_check.sh

# Tools whose pins conflict with ours (checkov pins an old boto3) get their own environment.
TOOLS_VENV := .venv-tools
$(TOOLS_VENV)/.installed: tools/checkov.lock $(STAMP)
	$(PYTHON) -m venv $(TOOLS_VENV)
	$(BIN)/uv pip install --quiet --python $(TOOLS_VENV)/bin/python --require-hashes --no-deps -r tools/checkov.lock
	touch $@

tools: $(TOOLS_VENV)/.installed

# checkov over every module and root under infra/, offline (no Prisma Cloud mapping, no external modules): zero
# failed checks, each skip justified inline next to its resource.
checkov: $(TOOLS_VENV)/.installed
	BC_SKIP_MAPPING=TRUE $(TOOLS_VENV)/bin/checkov -d infra --framework terraform --skip-download --quiet --compact

# Deployable artefacts in build/: a zip per Lambda function, the Lambda layers (the library and what the handlers
# import, for the python3.12 runtime: pip fetches manylinux wheels from its index at the locked hashes), the
# library's wheel (Glue), the Glue scripts, the SageMaker source bundle, and manifest.json (paths, sizes, sha256 in
# hex and base64 for Terraform). Offline: `make package LAYER=--local-layer` (layers for this platform) or
# LAYER=--no-layer.
package: $(STAMP)
	$(BIN)/python tools/package.py --out build $(LAYER)

bench: $(STAMP)
	$(BIN)/python bench/generate.py --scale small --days 14

# Regenerate the lock after editing dependencies in pyproject.toml (needs network to PyPI).
lock:
	$(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet uv
	.lockenv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
	.lockenv/bin/uv pip compile tools/checkov.in --python-version 3.11 --generate-hashes -o tools/checkov.lock
	.lockenv/bin/uv pip compile tools/uv.in --python-version 3.11 --generate-hashes -o tools/uv.lock

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .lockenv $(DEMO_OUT) .pytest_cache .ruff_cache
