# Two entry points (see README): `make report` (main job) and `make test` (tests + notebook validation).
# Each one creates the virtual environment and installs everything on first use.
VENV := .venv
PY := $(VENV)/bin/python
SHARED_DATA := $(abspath ../shared/data)
export ASLIB_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(SHARED_DATA),$(abspath data))

.PHONY: setup report test unit smoke clean vectors lab book student

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	if [ "$$(uname -m)" = x86_64 ]; then $(VENV)/bin/pip install -q torch==2.14.1 torchvision==0.29.1; fi
	$(VENV)/bin/pip install -q -e ".[notebooks,test,book]"
	touch $@

report: setup
	$(PY) -m aslib.cli report --out report
	$(PY) -m aslib.cli notebook-table --folder smoke=report/smoke default=report --into README.md docs/course.md

# Another machine, simulated on this one: another ATen CPU kernel set (avx2 on an AVX-512 CPU, else default) and
# one thread instead of all of them. The reproduction tests and the nbval re-execution of the smoke notebooks run
# under it, so every checked output and assert must hold there too.
OTHER_MACHINE = ATEN_CPU_CAPABILITY=$$($(PY) -c "import aslib.store.reproduction as r; print(r.other_capability())") \
	OMP_NUM_THREADS=1

# The student notebooks run on a stand-in for a user's own lossless CIFAR-10 (tests/lossless_standin.py).
test: setup
	$(PY) -m aslib.cli report --preset smoke --out report/smoke --force
	$(PY) -m aslib.cli book --notebooks report/smoke --out report/smoke/book
	$(PY) -m aslib.cli student --out report/smoke-student/notebooks
	$(PY) tests/lossless_standin.py report/standin-data
	ASLIB_DATA=$(abspath report/standin-data) $(PY) -m aslib.cli report --preset smoke \
		--notebooks report/smoke-student/notebooks --out report/smoke-student --force
	ASLIB_BOOK=report/smoke/book $(PY) -m pytest -q tests -p no:cacheprovider
	$(OTHER_MACHINE) $(PY) -m pytest -q -m reproduction tests -p no:cacheprovider
	$(OTHER_MACHINE) $(PY) -m pytest -q report/smoke/0*.ipynb --nbval-lax -p no:cacheprovider

unit: setup
	$(PY) -m pytest -q tests

# The rendered book (static HTML in report/book/html) of the notebooks as `make report` executed them.
book: report
	$(PY) -m aslib.cli book --notebooks report --out report/book

# The student versions of the notebooks (exercise solutions stubbed) in notebooks/student/, for `make lab`.
student: setup
	$(PY) -m aslib.cli student --out notebooks/student

# JupyterLab on the notebooks, with the same data root as every other target.
lab: setup
	$(PY) -m jupyter lab --notebook-dir=notebooks

# The shipped universal vectors (aslib/checkpoints/vectors*.json/.pt): the paper's experiments, crafted
# resumably (rerun after an interruption; finished vectors are skipped), most needed first.
SHIP := $(PY) -m aslib.cli attack-study --ship --threads 2 --test-images 2000
vectors: setup
	$(SHIP) --model lenet_fashion_mnist --experiment allclass --xis 10 --repeats 10
	$(SHIP) --model lenet_fashion_mnist --experiment oneclass --xis 10 --repeats 10
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment allclass --xis 10 --repeats 3
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment oneclass --xis 10 --repeats 3
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment allclass --xis 10 --repeats 10
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment oneclass --xis 10 --repeats 10
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment transfer --xis 10 --repeats 10
	$(SHIP) --model resnet20_cifar10 --experiment transfer --xis 10 --repeats 10
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment allclass --xis 10 --repeats 10 --methods as --solver authors
	$(SHIP) --model lenet_fashion_mnist --experiment allclass --xis 5 6 7 8 9 --repeats 5
	$(SHIP) --model lenet_fashion_mnist --experiment oneclass --xis 5 6 7 8 9 --repeats 5
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment allclass --xis 5 6 7 8 9 --repeats 5
	$(SHIP) --model vgg19_bn_w025_cifar10 --experiment oneclass --xis 5 6 7 8 9 --repeats 5

clean:
	rm -rf report .pytest_cache
