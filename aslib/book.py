"""The rendered book: a static HTML site of the executed notebooks and of ``docs/`` (Sphinx + myst-nb).

:func:`build` stages the notebooks of a report folder (as ``make report`` or the smoke run executed
them; outputs are shown, nothing is re-executed) and the Markdown pages of ``docs/`` (shipped in the package,
:func:`aslib.resources.docs_dir`) into
``out/src``, with a generated ``index.md`` (the table of contents) and ``conf.py``, and runs Sphinx
into ``out/html``. Nothing is fetched at build time; pages with formulas load MathJax when read in a
browser. :func:`local_links` lists what a built page points to on disk, for the link check.
"""
from __future__ import annotations

import html.parser
import shutil
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .resources import docs_dir

_CONF = """\
project = "aslib"
author = "the aslib authors"
extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"
html_theme = "alabaster"
html_title = "aslib: active subspaces of neural networks"
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
"""


def build(notebooks: str | Path, out: str | Path, *, docs: str | Path | None = None) -> Path:
    """Build the book from the notebooks ``NN_*.ipynb`` in the folder ``notebooks`` and the pages of ``docs``
    (default: the shipped ones, :func:`aslib.resources.docs_dir`).

    Returns the path of ``out/html/index.html``. Raises ``FileNotFoundError`` when the folder holds no
    notebook and ``RuntimeError`` when Sphinx reports an error.
    """
    from sphinx.cmd.build import build_main

    notebooks, out, docs = Path(notebooks), Path(out), Path(docs or docs_dir())
    pages = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not pages:
        raise FileNotFoundError(f"no notebooks NN_*.ipynb in {notebooks}: run `make report` (or the smoke run "
                                "of `make test`) first, or pass the folder that holds the executed notebooks")
    src = out / "src"
    shutil.rmtree(src, ignore_errors=True)
    (src / "notebooks").mkdir(parents=True)
    shutil.copytree(docs, src / "docs", ignore=shutil.ignore_patterns("conf.py", "_build"))
    for page in pages:
        shutil.copy(page, src / "notebooks" / page.name)
    doc_pages = ["docs/index"] + [f"docs/{p.stem}" for p in sorted(docs.glob("*.md")) if p.stem != "index"]
    index = ["# aslib: active subspaces of neural networks", "",
             "The notebooks of the kit as executed by its report run, and the pages on the methods behind them.",
             "", "```{toctree}", ":maxdepth: 1", ":caption: Notebooks", "",
             *[f"notebooks/{p.stem}" for p in pages], "```", "",
             "```{toctree}", ":maxdepth: 1", ":caption: Methods", "", *doc_pages, "```", ""]
    (src / "index.md").write_text("\n".join(index))
    (src / "conf.py").write_text(_CONF)
    html_dir = out / "html"
    status = build_main(["-b", "html", "-q", "-E", str(src), str(html_dir), "-d", str(out / "doctrees")])
    if status:
        raise RuntimeError(f"Sphinx failed to build the book from {src} (status {status}); its messages are above")
    return html_dir / "index.html"


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "src" or (name == "href" and tag in ("a", "link"))):
                self.targets.append(value)


def local_links(page: str | Path) -> list[Path]:
    """The files on disk that the HTML ``page`` links to or embeds (``href`` of links, ``src`` of images and
    scripts), fragments and queries removed; external (``http:``, ``mailto:``, ...) and in-page links are left out."""
    page = Path(page)
    parser = _Links()
    parser.feed(page.read_text(errors="replace"))
    found = []
    for target in parser.targets:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        found.append((page.parent / unquote(parts.path)).resolve())
    return found


__all__ = ["build", "local_links"]
