"""The main job: execute every notebook with papermill and collect a Markdown report.

Notebooks record their key tables and figures with :func:`record_table` / :func:`record_figure`;
when ``ASLIB_RESULTS`` is set (the report runner sets it) they are written there, otherwise
recording does nothing. A notebook already executed with the same notebook content, preset,
library source (every module and subpackage) and zoo manifest is skipped (its stamp file says so).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Sequence

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"

PAPER_CLAIMS = [
    ("ASNet parameter reduction, VGG-19 CIFAR-10", "23.98x", "asnet_parameter_reduction"),
    ("ASNet FLOPs (MACs) reduction, VGG-19 CIFAR-10", "7.30x", "asnet_macs_reduction"),
    ("Active neurons at a layer of thousands of neurons", "several dozens", "active_neurons_claim"),
    ("AS attack vs UAP attack ratio (test, largest xi)", "about +20 %", "attack_gap"),
    ("AS and UAP far above a random direction", "yes", "attack_vs_random"),
    ("Pretrained VGG-19-BN CIFAR-10 accuracy", "93.34 %", "vgg_accuracy"),
]


def results_dir() -> Path | None:
    """Where recorded results go (``$ASLIB_RESULTS``), or None when not running under the report."""
    path = os.environ.get("ASLIB_RESULTS")
    return Path(path) if path else None


def _slot(notebook: str, key: str, suffix: str) -> Path | None:
    root = results_dir()
    if root is None:
        return None
    folder = root / notebook
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}{suffix}"


def record_table(notebook: str, key: str, markdown: str) -> None:
    """Save a Markdown table for the report."""
    path = _slot(notebook, key, ".md")
    if path is not None:
        path.write_text(markdown.strip() + "\n")


def record_value(notebook: str, key: str, value: Any) -> None:
    """Save a scalar or short text shown next to the paper's claims."""
    path = _slot(notebook, key, ".json")
    if path is not None:
        path.write_text(json.dumps(value))


def record_figure(notebook: str, key: str, figure) -> None:
    """Save a matplotlib figure (PNG) for the report."""
    path = _slot(notebook, key, ".png")
    if path is not None:
        figure.savefig(path, dpi=90, bbox_inches="tight")


def _stamp(notebook: Path, preset: str) -> str:
    from . import __version__

    digest = hashlib.sha256(notebook.read_bytes())
    package = Path(__file__).parent
    for source in sorted([*package.rglob("*.py"), *(package / "checkpoints").glob("*.json")]):
        if source.exists():
            digest.update(source.read_bytes())
    digest.update(f"{preset}:{__version__}".encode())
    return digest.hexdigest()


def execute(notebooks: Sequence[Path], out: Path, preset: str = "default", force: bool = False,
            parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Execute notebooks into ``out`` with papermill; returns one timing row per notebook."""
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    results = (out / "results").resolve()
    os.environ["ASLIB_RESULTS"] = str(results)
    rows = []
    for nb in notebooks:
        target, stamp_file = out / nb.name, out / f"{nb.stem}.stamp.json"
        stamp = _stamp(nb, preset)
        if not force and target.exists() and stamp_file.exists() and \
                json.loads(stamp_file.read_text()).get("stamp") == stamp:
            row = json.loads(stamp_file.read_text())
            rows.append({**row, "skipped": True})
            print(f"[report] {nb.name}: up to date, skipped")
            continue
        print(f"[report] executing {nb.name} (preset {preset})", flush=True)
        start = time.time()
        papermill.execute_notebook(str(nb), str(target), cwd=str(nb.parent), progress_bar=True,
                                   parameters={"preset": preset, "interactive": False, **(parameters or {})})
        row = {"notebook": nb.name, "preset": preset, "seconds": round(time.time() - start, 1), "stamp": stamp}
        stamp_file.write_text(json.dumps(row))
        rows.append({**row, "skipped": False})
    return rows


def write_report(out: Path, timings: list[dict[str, Any]]) -> Path:
    """Assemble ``out/report.md`` from the recorded tables, values and figures."""
    results = out / "results"
    lines = ["# aslib reproduction report", "",
             "Every number below was measured by the notebooks of this run; the paper's figures come from its "
             "abstract and from `shared/docs/method.md`.", "", "## Paper claims against this run", "",
             "| claim | paper | measured here |", "|---|---|---|"]
    for claim, paper, key in PAPER_CLAIMS:
        found = sorted(results.glob(f"*/{key}.json"))
        measured = json.loads(found[-1].read_text()) if found else "not measured in this run"
        lines.append(f"| {claim} | {paper} | {measured} |")
    lines += ["", "## Notebook run times", "", "| notebook | preset | seconds | skipped |", "|---|---|---|---|"]
    lines += [f"| {r['notebook']} | {r['preset']} | {r['seconds']} | {r['skipped']} |" for r in timings]
    for folder in sorted(p for p in results.glob("*") if p.is_dir()):
        lines += ["", f"## {folder.name}", ""]
        for item in sorted(folder.iterdir()):
            if item.suffix == ".md":
                lines += [f"### {item.stem}", "", item.read_text(), ""]
            elif item.suffix == ".png":
                lines += [f"![{item.stem}](results/{folder.name}/{item.name})", ""]
            elif item.suffix == ".json":
                lines += [f"- **{item.stem}**: {json.loads(item.read_text())}"]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_report(out: Path | str = "report", preset: str = "default", force: bool = False,
               notebooks: Sequence[Path] | None = None) -> Path:
    """Execute all notebooks (``notebooks/*.ipynb``) and write ``out/report.md``."""
    out = Path(out)
    notebooks = sorted(notebooks or NOTEBOOK_DIR.glob("[0-9]*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"no notebooks found in {NOTEBOOK_DIR}")
    start = time.time()
    timings = execute(notebooks, out, preset, force)
    path = write_report(out, timings)
    print(f"[report] wrote {path} in {time.time() - start:.0f} s")
    return path
