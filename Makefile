# Two entry points (see README): `make report` (main job) and `make test` (tests + notebook validation).
# Each one creates the virtual environment and installs everything on first use.
VENV := .venv
PY := $(VENV)/bin/python
SHARED_DATA := $(abspath ../shared/data)
export ASLIB_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),$(abspath data))

.PHONY: setup report test unit smoke clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	if [ "$$(uname -m)" = x86_64 ]; then $(VENV)/bin/pip install -q torch==2.14.1 torchvision==0.29.1; fi
	$(VENV)/bin/pip install -q -e ".[notebooks,test]"
	touch $@

report: setup
	$(PY) -m aslib.cli report --out report

test: setup
	$(PY) -m aslib.cli report --preset smoke --out report/smoke --force
	$(PY) -m pytest -q tests report/smoke/0*.ipynb --nbval-lax -p no:cacheprovider

unit: setup
	$(PY) -m pytest -q tests

clean:
	rm -rf report .pytest_cache
