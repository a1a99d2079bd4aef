# The two commands: `make run` (local CRM) and `make test`. Each sets itself up.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean-data package lint-infra deploy

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	@command -v python3 >/dev/null || { echo "python3 is required"; exit 1; }
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	sh infra/system-packages.sh
	touch $(STAMP)

run: setup
	$(PY) -m infra.local.run

test: setup lint-infra lint
	$(PY) -m pytest -q -n 2

# The checks that guard the shape (README "Layout"), fastest first: style, formatting,
# the import contracts between layers ([tool.importlinter] in pyproject.toml), and types
# (mypy reads [tool.mypy] in pyproject.toml: strict on chalicelib.domain).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# ---- AWS (README "Deploy to AWS") ----
STAGE ?= prod
STACK ?= crm-$(STAGE)
INFRA_VENV := build/infra-venv
INFRA_STAMP := $(INFRA_VENV)/.installed

# build/aws/$(STAGE)/: sam.json (the merged SAM template) and deployment.zip, offline.
package: setup
	$(PY) -m infra.aws.package --stage $(STAGE)

# cfn-lint and checkov have their own virtualenv: their pins are not the app's.
$(INFRA_STAMP): infra/aws/requirements.txt
	test -x $(INFRA_VENV)/bin/python || python3 -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install -q --disable-pip-version-check -r infra/aws/requirements.txt
	touch $(INFRA_STAMP)

# The template of a clean checkout must pass cfn-lint and checkov (infra/aws/checkov-exceptions.yaml).
lint-infra: setup $(INFRA_STAMP)
	$(PY) -m infra.aws.package --stage prod
	$(PY) -m infra.aws.checks build/aws/prod/sam.json --tools $(INFRA_VENV)/bin

# Needs the AWS CLI, credentials, and an S3 bucket for the code in the same region
# (the template, about 260 KB, is over CloudFormation's 51,200-byte inline limit: it goes there too):
#   make deploy STAGE=prod ARTIFACT_BUCKET=my-artifacts PARAMS="MailFrom=crm@example.com SesIdentity=example.com"
deploy:
	@test -n "$(ARTIFACT_BUCKET)" || { echo "ARTIFACT_BUCKET=<S3 bucket for the code> is required"; exit 1; }
	@command -v aws >/dev/null || { echo "the AWS CLI v2 is required"; exit 1; }
	$(MAKE) package STAGE=$(STAGE)
	aws cloudformation package --template-file build/aws/$(STAGE)/sam.json --s3-bucket $(ARTIFACT_BUCKET) \
	  --output-template-file build/aws/$(STAGE)/packaged.yaml
	aws cloudformation deploy --template-file build/aws/$(STAGE)/packaged.yaml --stack-name $(STACK) \
	  --s3-bucket $(ARTIFACT_BUCKET) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND $(if $(PARAMS),--parameter-overrides $(PARAMS))

bench: setup
	$(PY) bench/cold_start.py

# Issue 19: schemathesis against the local stack's /openapi.json (tests/fuzz/run.py; README "Tests and benchmarks").
# CI runs it after `make test`.
.PHONY: fuzz
fuzz: setup
	$(PY) -m tests.fuzz.run

clean-data:
	rm -rf .crm-data
