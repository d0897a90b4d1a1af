# The few commands a person types. Everything installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/dev.txt
SAM_VENV := .venv-sam
SAM_LOCK := requirements/sam.txt
SAM_STAMP := $(SAM_VENV)/.installed
MODEL_VERSION := 2.0.0
MODEL_DIR := model_artifacts/lead_scorer/$(MODEL_VERSION)
DEMO_DIR := .aiqleads/demo

.PHONY: setup lock run file-demo local-cloud redrive test lint typecheck unit bench model openapi format clean package deploy \
	rehearse
AWS_PORT ?= 4566
API_PORT ?= 3000

setup: $(STAMP)

# The locked versions, hash-checked (requirements/dev.txt: runtime + train + dev), then the project itself; a
# changed lock installs again.
$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=python3.13)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Rewrite the locks (requirements/*.txt, layers/deps/requirements.lock) from pyproject.toml,
# layers/deps/requirements.txt and requirements/sam.in, keeping every pin that still fits; `make lock UPGRADE=1` takes the newest versions.
lock: $(STAMP)
	$(BIN)/python -m infra.locks compile $(if $(UPGRADE),--upgrade)

# The main job: the embedded local cloud on 127.0.0.1 (moto as the AWS endpoint on $(AWS_PORT), every resource
# template.yaml declares, the demo tenant and data, the API as API Gateway serves it on $(API_PORT), and each
# queue-triggered function polling its queue) until Ctrl-C. It prints the API key and copy-paste examples.
run: $(STAMP)
	$(BIN)/python -m infra.local_cloud up --port $(AWS_PORT) --api-port $(API_PORT)

# No AWS at all: generate demo leads (with their real outcomes), score the file with the shipped model, and show
# the grades against what actually happened and the best leads with their reasons.
file-demo: $(STAMP)
	@mkdir -p $(DEMO_DIR)
	$(BIN)/aiqleads generate --rows 20000 --seed 42 -o $(DEMO_DIR)/leads.csv
	$(BIN)/aiqleads score $(DEMO_DIR)/leads.csv -o $(DEMO_DIR)/leads.scored.csv
	@$(BIN)/aiqleads summarize $(DEMO_DIR)/leads.scored.csv

# The AWS endpoint and the template's resources only (no functions, no demo data), until Ctrl-C.
local-cloud: $(STAMP)
	$(BIN)/python -m infra.local_cloud up --port $(AWS_PORT) --no-functions --no-demo

# Webhook deliveries that exhausted their retries in the running local cloud (make run), back to the notify queue
# for a new round; MAX=N moves at most N. In AWS: .venv/bin/python -m aiqleads.webhooks.redrive --stage <stage>.
redrive: $(STAMP)
	$(BIN)/python -m infra.local_cloud redrive $(if $(MAX),--max $(MAX))

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m infra.template check template.yaml

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# Rebuild the shipped model from generated data (same data, same seed: same metrics). The shipped model keeps a
# fixed size and a random split, so a rebuild gives the same model; new models choose theirs (aiqleads train).
# 2.0.0: monotone engagement, fit and engagement in separate trees, decayed behaviour counts (issue 13).
model: $(STAMP)
	@mkdir -p .aiqleads
	$(BIN)/aiqleads generate --rows 200000 --seed 2026 -o .aiqleads/training.parquet
	$(BIN)/aiqleads train --data .aiqleads/training.parquet --label converted --id id --spec lead \
		--split random --trees 60 --leaves 15 \
		--version $(MODEL_VERSION) --out $(MODEL_DIR)
	echo $(MODEL_VERSION) > model_artifacts/lead_scorer/PRODUCTION

# The Lambda artifacts for python3.13 on x86_64 and arm64 (deps and core layers, one zip per functions/<name>/)
# in build/package/<arch>/, with their sizes; fails above Lambda's 250 MB unzipped limit. See README.
package: $(STAMP)
	$(BIN)/python -m infra.packaging build --arch all

# The AWS SAM CLI, hash-checked from requirements/sam.txt, in a venv of its own: its pins need not agree with ours.
$(SAM_STAMP): $(SAM_LOCK)
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet --require-hashes -r $(SAM_LOCK)
	touch $(SAM_STAMP)

# The deploy rehearsal, offline (CI runs it): the arm64 emulation root, make package with both architectures
# smoke-tested (arm64 under qemu), sam validate --lint, sam build, sam package into moto's S3 on 127.0.0.1, every
# artifact proven there, the CloudFormation it becomes; prints a summary. Needs root once, for debootstrap, and
# apt-get install qemu-user-static debootstrap (.ci/run installs them).
rehearse: $(STAMP) $(SAM_STAMP)
	$(BIN)/python -m infra.rehearsal

# For someone with an AWS account and credentials (never run in CI; the README's deploy guide): make package, then
# the locked SAM CLI builds and deploys stack $(STACK) (default aiqleads-<stage>, what --stage commands assume),
# with SAM's managed bucket for the artifacts. STAGE=dev|staging|prod, STACK=..., and AWS_REGION as usual.
STAGE ?= dev
STACK ?= aiqleads-$(STAGE)
deploy: package $(SAM_STAMP)
	$(SAM_VENV)/bin/sam build
	$(SAM_VENV)/bin/sam deploy --stack-name $(STACK) \
		--parameter-overrides Stage=$(STAGE) CodeVersion=$$(git rev-parse --short=12 HEAD 2>/dev/null) \
		--capabilities CAPABILITY_IAM --resolve-s3 --no-fail-on-empty-changeset

# The committed OpenAPI document, regenerated from the routes, the models and template.yaml's routes that need no
# key (a test fails when it is stale). GET /v1/openapi.json serves it; make package puts it in the core layer.
openapi: $(STAMP)
	$(BIN)/python -m infra.openapi -o openapi.json

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(SAM_VENV) .aiqleads .pytest_cache .mypy_cache .ruff_cache .hypothesis
