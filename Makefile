# The two commands: `make run` (local CRM) and `make test`. Each sets itself up.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean-data

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

test: setup
	$(PY) -m pytest -q -n 2

bench: setup
	$(PY) bench/cold_start.py

clean-data:
	rm -rf .crm-data
