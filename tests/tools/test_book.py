"""The rendered book: one page per notebook, no broken local link or image, and a browser loads it cleanly.

``make test`` builds the book from the smoke run and points ``ASLIB_BOOK`` at it; without that variable
the book is built here from the stored notebooks (no outputs). CI installs Chromium and sets
``ASLIB_REQUIRE_CHROMIUM=1``, so the browser check cannot be skipped there.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """The ``html`` folder of the built book."""
    given = os.environ.get("ASLIB_BOOK")
    if given:
        html = Path(given).resolve() / "html"  # absolute: the browser gets a file:// URI
        assert (html / "index.html").exists(), f"ASLIB_BOOK={given} holds no built book (html/index.html)"
        return html
    pytest.importorskip("myst_nb", reason="the book needs the 'book' extra (pip install -e '.[book]')")
    from aslib.tools.book import build

    return build(ROOT / "notebooks", tmp_path_factory.mktemp("book")).parent


def _title(notebook: Path) -> str:
    from aslib.tools.report import notebook_subject

    return notebook_subject(notebook)


def test_every_notebook_and_every_docs_page_has_a_page_listed_in_the_index(book):
    index = (book / "index.html").read_text()
    assert NOTEBOOKS
    for notebook in NOTEBOOKS:
        page = book / "notebooks" / f"{notebook.stem}.html"
        assert page.exists(), f"no page for {notebook.name}"
        assert _title(notebook) in page.read_text(), f"{page.name} does not show the notebook's title"
        assert f'href="notebooks/{notebook.stem}.html"' in index, f"the index does not link {notebook.name}"
    for doc in (ROOT / "docs").glob("*.md"):
        assert (book / "docs" / f"{doc.stem}.html").exists(), f"no page for docs/{doc.name}"


def test_no_local_link_or_image_of_the_book_is_broken(book):
    from aslib.tools.book import local_links

    pages = [p for p in book.rglob("*.html") if "_static" not in p.relative_to(book).parts]  # not theme templates
    checked, broken = 0, []
    for page in pages:
        for target in local_links(page):
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(book)} -> {target}")
    assert checked >= 3 * len(pages), "every page links its stylesheets and scripts: the check found too few links"
    assert not broken, "broken local links:\n" + "\n".join(broken[:20])


def test_local_links_finds_a_missing_image(tmp_path):
    from aslib.tools.book import local_links

    (tmp_path / "there.png").write_bytes(b"png")
    page = tmp_path / "page.html"
    page.write_text('<a href="https://example.org">x</a><a href="#top">t</a><img src="there.png">'
                    '<img src="sub/missing%20one.png"><a href="page.html#s">self</a><a href="mailto:a@b.c">m</a>')
    assert [p.exists() for p in local_links(page)] == [True, False, True]
    assert local_links(page)[1].name == "missing one.png"


def test_headless_chromium_loads_the_index_without_console_errors_and_saves_a_screenshot(book):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("ASLIB_REQUIRE_CHROMIUM"):
            pytest.fail("ASLIB_REQUIRE_CHROMIUM is set but no chromium is on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    shot = book.parent / "index.png"
    shot.unlink(missing_ok=True)
    run = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr",
                          "--v=0", "--window-size=1280,900", f"--screenshot={shot}", (book / "index.html").as_uri()],
                         capture_output=True, text=True, timeout=120)
    # Chromium logs every console message at one level; the book theme announces its colour mode with console.log
    console = [line for line in run.stderr.splitlines()
               if re.search(r":CONSOLE[:(]", line) and not re.search(r'"\[PST\]: Changed to \w+ mode', line)]
    assert not console, "the index page logged to the console:\n" + "\n".join(console)
    assert shot.exists() and shot.stat().st_size > 20_000, f"no screenshot written (chromium said: {run.stderr[-500:]})"


def _chromium() -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("ASLIB_REQUIRE_CHROMIUM"):
            pytest.fail("ASLIB_REQUIRE_CHROMIUM is set but no chromium is on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    return browser


def _browse(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Chromium on a file:// page, offline (no proxy can answer), with time for MathJax to typeset."""
    return subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
                           "--virtual-time-budget=20000", "--window-size=1280,1400", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=180)


def test_a_page_with_mathematics_shows_it_typeset_offline_and_screenshots_are_saved(book):
    page = book / "notebooks" / f"{NOTEBOOKS[0].stem}.html"
    assert "mathjax/MathJax.js" in page.read_text() and "cdn" not in page.read_text().lower()
    dom = _browse(page, "--dump-dom").stdout
    visible = re.sub(r"<script\b.*?</script>", "", dom, flags=re.S)  # MathJax keeps the TeX source in scripts
    assert visible.count('class="MathJax"') >= 20, "MathJax typeset (almost) nothing on a page full of formulas"
    assert "Math Processing Error" not in visible
    raw = re.findall(r"\\\(|\\\[|\\mathbb|\\nabla|\\lambda", re.sub(r"<[^>]+>", " ", visible))
    assert not raw, f"raw TeX on the page: {raw[:5]}"
    for name, shown in (("notebook.png", page), ("api.png", book / "api.html")):
        shot = book.parent / name
        shot.unlink(missing_ok=True)
        run = _browse(shown, f"--screenshot={shot}")
        assert shot.exists() and shot.stat().st_size > 20_000, f"no screenshot of {shown.name}: {run.stderr[-300:]}"


def test_plumbing_cells_are_removed_or_collapsed(book):
    page = (book / "notebooks" / "06_universal_attacks.html").read_text()
    assert "# Parameters" not in page, "papermill's injected parameters cell is shown"
    assert page.count("tag_hide-cell") >= 2 and page.count("tag_hide-input") >= 3  # parameters/set-up; checks


def test_the_api_reference_documents_every_module(book):
    from aslib.tools.book import api_modules

    page = (book / "api.html").read_text()
    modules = api_modules()
    assert len(modules) >= 25 and "aslib.linalg.subspace" in modules
    missing = [m for m in modules if f'id="module-{m}"' not in page]
    assert not missing, f"modules without a section in the API reference: {missing}"
    assert 'id="aslib.linalg.subspace.ActiveSubspace"' in page and 'id="aslib.attacks.as_attack"' in page


@pytest.mark.parametrize("source, tags, kind", [
    ("# Parameters\npreset = 'smoke'\n", ["injected-parameters"], "injected-parameters"),
    ("preset = 'default'\n", ["parameters"], "parameters"),
    ("nb = aslib.teach.nb.start('x', preset, overrides)\n", [], "setup"),
    ("# NBVAL_CHECK_OUTPUT\nprint(ok)\n", [], "check"),
    ("for r in rows:\n    assert r > 0, 'why'\n", [], "check"),
    ("rows = study()\nnb.table(rows)\nassert rows\n", [], None),  # shows a result: the reader reads it
    ("x = f()\nx\n", [], None),
    ("def my_f(x):\n    return x\n", ["solution"], "solution"),
])
def test_cell_kind(source, tags, kind):
    from aslib.tools.book import CELL_TAGS, cell_kind

    assert cell_kind({"cell_type": "code", "metadata": {"tags": tags}, "source": [source]}) == kind
    assert kind is None or kind in CELL_TAGS
