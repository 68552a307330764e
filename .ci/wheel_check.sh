#!/usr/bin/env bash
# The kit as a user installs it: build the wheel, install it into a fresh virtual environment (no checkout on
# the path), and run the commands of an installed kit from an empty folder: --version, zoo, data, student,
# the smoke report of notebook 01 and the book. One PASS/FAIL line per step; exits 1 at the first failure
# (with the end of that step's output). Called by .ci/run before `make test`; needs .venv (`make setup`).
# Takes a few minutes and ~5 GB for torch in the temporary environment, removed at the end
# (WHEEL_CHECK_KEEP=1 keeps it and says where).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
START=$SECONDS
if [ -z "${ASLIB_DATA:-}" ] && [ -d ../shared/data ]; then
  export ASLIB_DATA="$(cd ../shared/data && pwd)"
fi
unset PYTHONPATH
TMP=$(mktemp -d "${TMPDIR:-/tmp}/aslib-wheel-check.XXXXXX")
if [ "${WHEEL_CHECK_KEEP:-0}" = 1 ]; then
  trap 'echo "wheel_check: kept $TMP"' EXIT
else
  trap 'rm -rf "$TMP"' EXIT
fi
mkdir -p "$TMP/logs" "$TMP/run"
STEP=0

# Each step is one command or function (whose commands are chained with &&: `set -e` does not reach inside a
# function run as a condition).
step() {  # step NAME COMMAND...: run COMMAND, its output to a log; PASS, or FAIL with the log's end and exit 1
  local name=$1 log
  shift
  STEP=$((STEP + 1))
  log="$TMP/logs/$STEP.log"
  local began=$SECONDS
  if "$@" >"$log" 2>&1; then
    echo "PASS $name ($((SECONDS - began)) s)"
  else
    echo "FAIL $name (status $?, $((SECONDS - began)) s); the end of its output:"
    tail -n 40 "$log" | sed 's/^/    /'
    exit 1
  fi
}

build_wheel() {  # from a copy of the work tree (tracked and untracked, not ignored), so build/ stays out of it
  local isolation=--no-build-isolation  # .venv's setuptools when it has one (no download), else pip's own
  "$REPO/.venv/bin/python" -c "import setuptools" 2>/dev/null || isolation=
  mkdir -p "$TMP/src" "$TMP/dist" &&
    git ls-files -z -c -o --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$TMP/src" &&
    "$REPO/.venv/bin/python" -m pip wheel --no-deps $isolation -q -w "$TMP/dist" "$TMP/src"
}

wheel_holds_the_resources() {  # notebooks, docs pages and py.typed as real files, no student notebook
  "$REPO/.venv/bin/python" - "$TMP"/dist/aslib-*.whl <<'EOF'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
notebooks = [n for n in names if n.startswith("aslib/notebooks/")]
docs = [n for n in names if n.startswith("aslib/docs/")]
print(f"{sys.argv[1]}: {len(names)} files, {len(notebooks)} notebooks, {len(docs)} docs pages")
assert len(notebooks) >= 7 and all(n.endswith(".ipynb") and "/student/" not in n for n in notebooks), notebooks
assert "aslib/docs/index.md" in docs and "aslib/py.typed" in names, (docs, "py.typed")
EOF
}

install() {  # torch as the Makefile installs it, then the wheel with the extras the steps use
  local wheel
  wheel=$(ls "$TMP"/dist/aslib-*.whl) && python3 -m venv "$TMP/venv" &&
    if [ "$(uname -m)" = x86_64 ]; then "$TMP/venv/bin/pip" install -q torch==2.14.1 torchvision==0.29.1; fi &&
    "$TMP/venv/bin/pip" install -q "$wheel[notebooks,book]"
}

in_run() { (cd "$TMP/run" && PATH="$TMP/venv/bin:$PATH" "$@"); }

installed_not_the_checkout() {
  in_run python -c "import aslib, sys; print(aslib.__file__); sys.exit('$REPO' in aslib.__file__)"
}

version() {
  local want help
  want=$("$REPO/.venv/bin/python" -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])") &&
    [ "$(in_run aslib --version)" = "aslib $want" ] && [ "$(in_run python -m aslib --version)" = "aslib $want" ] &&
    help=$(in_run aslib --help) && [[ $help == "usage: aslib "* ]]
}

package_files() { find "$TMP"/venv/lib/python3*/site-packages/aslib -path '*__pycache__*' -prune -o -type f -print | sort; }

student() { in_run aslib student --out student && [ "$(ls "$TMP/run/student" | wc -l)" -ge 7 ]; }

report() {  # the smoke report of notebook 01; nothing may be written into the installed package
  package_files >"$TMP/before.txt"
  in_run aslib report --preset smoke --only 01 --out rep && test -f "$TMP/run/rep/report.md" &&
    package_files >"$TMP/after.txt" && diff "$TMP/before.txt" "$TMP/after.txt"
}

book() { in_run aslib book --notebooks rep --out book && test -f "$TMP/run/book/html/index.html"; }

step "build the wheel" build_wheel
step "the wheel holds the notebooks, docs and py.typed ($(du -h "$TMP"/dist/aslib-*.whl | cut -f1))" wheel_holds_the_resources
step "install torch and the wheel [notebooks,book] into a fresh venv" install
step "import aslib from the venv, not from the checkout" installed_not_the_checkout
step "aslib --version, python -m aslib --version, aslib --help" version
step "aslib zoo" in_run aslib zoo
step "aslib data" in_run aslib data
step "aslib student --out student" student
step "aslib report --preset smoke --only 01 (rep/report.md; site-packages untouched)" report
step "aslib book --notebooks rep --out book (book/html/index.html)" book
echo "wheel_check: all $STEP steps passed in $((SECONDS - START)) s"
