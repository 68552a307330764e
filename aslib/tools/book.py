"""The rendered book: a static HTML site of the executed notebooks, of ``docs/`` and of the API (Sphinx + myst-nb).

:func:`build` stages the notebooks of a report folder (as ``make report`` or the smoke run executed
them; outputs are shown, nothing is re-executed), the Markdown pages of ``docs/`` (shipped in the package,
:func:`aslib.teach.resources.docs_dir`) and an API reference generated from the docstrings (``autodoc``) into
``out/src``, with a generated ``index.md`` (the table of contents) and ``conf.py``, and runs Sphinx
into ``out/html`` with the book theme (``sphinx-book-theme``). Nothing is fetched, at build time or when reading:
the mathematics is typeset by a MathJax copied into the book (from the ``jupyter-server-mathjax`` package).
Plumbing cells are tagged for myst-nb while staging (:data:`CELL_TAGS`): papermill's injected parameters are
removed, the parameters and set-up cells collapsed, and the CI checks and exercise solutions show their output
with the code collapsed. :func:`local_links` lists what a built page points to on disk, for the link check.
"""
from __future__ import annotations

import ast
import html.parser
import importlib
import json
import pkgutil
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aslib

from aslib.contracts import contract
from aslib.teach.resources import docs_dir

MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"
"""The MathJax 2 configuration the pages load (TeX input, HTML-CSS output with the STIX web fonts, the fonts that
package holds) from ``_static/mathjax``."""

_CONF = f"""\
project = "aslib"
author = "the aslib authors"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_update_mathjax = False
nb_execution_mode = "off"
html_theme = "sphinx_book_theme"
html_theme_options = {{"show_toc_level": 2, "use_download_button": False, "use_fullscreen_button": False}}
html_title = "aslib: active subspaces of neural networks"
html_context = {{"default_mode": "light"}}
html_static_path = ["_static"]
html_css_files = ["aslib.css"]
mathjax_path = "mathjax/MathJax.js?config={MATHJAX_CONFIG}"
mathjax2_config = {{"HTML-CSS": {{"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                                "imageFont": None}}}}
autodoc_member_order = "bysource"
napoleon_use_ivar = True
autodoc_typehints = "none"
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
"""

_CSS = """\
/* code and tables wrap instead of scrolling sideways */
div.cell div.highlight pre, div.highlight pre { white-space: pre-wrap; overflow-wrap: anywhere; }
div.cell_output table { display: block; overflow-x: auto; }
"""

CELL_TAGS = {"injected-parameters": "remove-cell", "parameters": "hide-cell", "setup": "hide-cell",
             "check": "hide-input", "solution": "hide-input"}
"""myst-nb tag given to a cell of each kind: papermill's injected-parameters cell, the parameters cell, the set-up
cells (installing the kit, the preset configuration), the CI checks (cells that only assert, and those whose
output CI compares, ``# NBVAL_CHECK_OUTPUT``) and the exercise solutions."""

_SHOWS = {"print", "table", "figure", "display", "claim"}


@contract
def cell_kind(cell: Mapping[str, Any]) -> str | None:
    """The kind of a notebook cell in :data:`CELL_TAGS` (``None``: a cell the reader reads as it is)."""
    if cell["cell_type"] != "code":
        return None
    tags = cell.get("metadata", {}).get("tags", [])
    for kind in ("injected-parameters", "parameters", "solution"):
        if kind in tags:
            return kind
    source = "".join(cell["source"])
    if "%pip install" in source or "aslib.teach.nb.start(" in source:
        return "setup"
    if source.startswith("# NBVAL_CHECK_OUTPUT"):
        return "check"
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics
        return None
    nodes = list(ast.walk(tree))
    shows = any(isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(n.func, "id", "")) in _SHOWS
                for n in nodes) or any(isinstance(s, ast.Expr) and not isinstance(s.value, ast.Constant)
                                       for s in tree.body)
    return "check" if any(isinstance(n, ast.Assert) for n in nodes) and not shows else None


def _stage_notebook(page: Path, target: Path) -> None:
    notebook = json.loads(page.read_text())
    for cell in notebook["cells"]:
        kind = cell_kind(cell)
        if kind is not None:
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            tags.append(CELL_TAGS[kind])
    target.write_text(json.dumps(notebook))


def _api_page(modules: list[str]) -> str:
    lines = ["# API reference", "", "Generated from the docstrings of the installed package.", ""]
    for module in modules:
        lines += [f"## `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", "   :members:", "```", ""]
    return "\n".join(lines)


def api_modules() -> list[str]:
    """The public modules of the package, in the order of the package docstring's list of layers (``aslib.cli``
    last): a package that re-exports its names (it has ``__all__``) is one entry, a folder of modules is its own
    entry followed by each of its public modules."""
    return [name for top in re.findall(r":mod:`(aslib\.[a-z_]+)`", aslib.__doc__ or "") for name in _documented(top)]


def _documented(name: str) -> list[str]:
    module = importlib.import_module(name)
    if hasattr(module, "__all__") or not hasattr(module, "__path__"):
        return [name]
    return [name] + [sub for info in pkgutil.iter_modules(module.__path__) if not info.name.startswith("_")
                     for sub in _documented(f"{name}.{info.name}")]


def _mathjax() -> Path:
    try:
        import jupyter_server_mathjax
    except ModuleNotFoundError:
        raise ModuleNotFoundError("the book bundles MathJax from the jupyter-server-mathjax package, part of the "
                                  "'book' extra: pip install 'aslib[book]'") from None

    return Path(jupyter_server_mathjax.__file__).parent / "static"


@contract
def build(notebooks: str | Path, out: str | Path, *, docs: str | Path | None = None) -> Path:
    """Build the book from the notebooks ``NN_*.ipynb`` in the folder ``notebooks``, the pages of ``docs``
    (default: the shipped ones, :func:`aslib.teach.resources.docs_dir`) and the API reference.

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
        _stage_notebook(page, src / "notebooks" / page.name)
    shutil.copytree(_mathjax(), src / "_static" / "mathjax")
    (src / "_static" / "aslib.css").write_text(_CSS)
    (src / "api.md").write_text(_api_page(api_modules()))
    doc_pages = ["docs/index"] + [f"docs/{p.stem}" for p in sorted(docs.glob("*.md")) if p.stem != "index"]
    index = ["# aslib: active subspaces of neural networks", "",
             "The notebooks of the kit as executed by its report run, the pages on the methods behind them, and "
             "the API reference.", "", "```{toctree}", ":maxdepth: 1", ":caption: Notebooks", "",
             *[f"notebooks/{p.stem}" for p in pages], "```", "",
             "```{toctree}", ":maxdepth: 1", ":caption: Methods", "", *doc_pages, "```", "",
             "```{toctree}", ":maxdepth: 1", ":caption: Reference", "", "api", "```", ""]
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


@contract
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


__all__ = ["CELL_TAGS", "MATHJAX_CONFIG", "api_modules", "build", "cell_kind", "local_links"]
