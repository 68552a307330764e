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

ROOT = Path(__file__).resolve().parents[1]
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
    from aslib.book import build

    return build(ROOT / "notebooks", tmp_path_factory.mktemp("book")).parent


def _title(notebook: Path) -> str:
    from aslib.report import notebook_subject

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
    from aslib.book import local_links

    pages = list(book.rglob("*.html"))
    checked, broken = 0, []
    for page in pages:
        for target in local_links(page):
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(book)} -> {target}")
    assert checked >= 3 * len(pages), "every page links its stylesheets and scripts: the check found too few links"
    assert not broken, "broken local links:\n" + "\n".join(broken[:20])


def test_local_links_finds_a_missing_image(tmp_path):
    from aslib.book import local_links

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
    console = [line for line in run.stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]
    assert not console, "the index page logged to the console:\n" + "\n".join(console)
    assert shot.exists() and shot.stat().st_size > 20_000, f"no screenshot written (chromium said: {run.stderr[-500:]})"
