"""The main job: execute every notebook with papermill and collect a Markdown report.

Notebooks record their key tables, figures, values and claims with :mod:`aslib.teach.recording`; the runner
sets ``ASLIB_RESULTS`` so that they are written into the output folder, and collects them. The notebooks are the
ones shipped in the package (:func:`aslib.teach.resources.notebooks`), each executed with the output folder as
its working directory, so a run writes nothing outside it (an installed kit's own folder stays untouched). A notebook
already executed with the same notebook content, preset,
library source (every module and subpackage), shipped checkpoints and manifests and data archives is
skipped (its stamp file says so).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from aslib import __version__
from aslib._utils import atomic_write_json, default_device
from aslib.contracts import contract
from aslib.data import identity
from aslib.store.reproduction import platform_fingerprint
from aslib.teach.claims import CLAIMS, headline
from aslib.teach.presets import Preset
from aslib.teach.resources import notebooks as shipped_notebooks, select


def _stamp(notebook: Path, preset: str) -> str:
    """Hash of what a notebook's results depend on: the notebook, the preset, the library source, every
    shipped checkpoint and manifest, and the identity of the data archives (:func:`aslib.data.identity`)."""
    digest = hashlib.sha256(notebook.read_bytes())
    package = Path(__file__).parent
    checkpoints = package / "checkpoints"
    for source in sorted([*package.rglob("*.py"), *checkpoints.glob("*.json"), *checkpoints.glob("*.pt")]):
        if source.exists():
            digest.update(source.read_bytes())
    digest.update(json.dumps(identity(), sort_keys=True).encode())
    digest.update(f"{preset}:{__version__}".encode())
    return digest.hexdigest()


@contract
def execute(notebooks: Sequence[str | Path], out: str | Path, preset: Preset = "default", force: bool = False,
            parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Execute notebooks into ``out`` with papermill, each with ``out`` as its working directory (what a notebook
    writes to a relative path lands there); returns one timing row per notebook. ``ASLIB_RESULTS`` (where the
    notebooks record) is set for the run and restored afterwards."""
    notebooks, out = [Path(nb) for nb in notebooks], Path(out)
    missing = [str(nb) for nb in notebooks if not nb.is_file()]
    if missing:
        raise FileNotFoundError(f"notebooks not found: {missing}")
    out.mkdir(parents=True, exist_ok=True)
    results = (out / "results").resolve()
    previous = os.environ.get("ASLIB_RESULTS")
    os.environ["ASLIB_RESULTS"] = str(results)  # the kernels inherit it; restored below, also after a failure
    try:
        return _execute_each(notebooks, out, preset, force, parameters)
    finally:
        if previous is None:
            os.environ.pop("ASLIB_RESULTS", None)
        else:
            os.environ["ASLIB_RESULTS"] = previous


BUSY_CORES = 0.25
"""A notebook's run time is marked as measured on a busy machine when other processes used more than this many CPU
cores on average while it ran (:func:`notebook_table`)."""


def _machine_cpu_seconds() -> float | None:
    """CPU seconds all processes of this machine have used since boot (Linux ``/proc/stat``; ``None`` elsewhere)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the notebook kernels it started and waited for)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _execute_each(notebooks: Sequence[Path], out: Path, preset: str, force: bool,
                  parameters: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    import papermill

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
        start, machine, own = time.time(), _machine_cpu_seconds(), _own_cpu_seconds()
        papermill.execute_notebook(str(nb), str(target), cwd=str(out.resolve()), progress_bar=True,
                                   parameters={"preset": preset, "interactive": False, **(parameters or {})})
        seconds = time.time() - start
        others = None if machine is None else (_machine_cpu_seconds() - machine - (_own_cpu_seconds() - own)) / seconds
        row = {"notebook": nb.name, "preset": preset, "seconds": round(seconds, 1), "stamp": stamp,
               "cpus": os.cpu_count(), "other_cores": None if others is None else round(max(others, 0.0), 2)}
        stamp_file.write_text(json.dumps(row))
        rows.append({**row, "skipped": False})
    return rows


@contract
def collect_claims(results: str | Path) -> list[dict[str, Any]]:
    """Every claim of :data:`aslib.teach.claims.CLAIMS` in order: the recorded one, or ``measured: None`` when no
    notebook
    of this run measured it."""
    found = {}
    for path in sorted(Path(results).glob("*/claims/*.json")):
        claim = json.loads(path.read_text())
        found[claim["id"]] = claim
    return [found.get(cid, {"id": cid, "claim": what, "paper": paper, "measured": None, "ci95": None, "n": None,
                            "source": "not measured in this run", "preset": None, "note": "", "notebook": None})
            for cid, (what, paper) in CLAIMS.items()]


def _claim_row(claim: dict[str, Any]) -> str:
    measured = "not measured in this run" if claim["measured"] is None else f"{claim['measured']:.4g}"
    ci = "" if claim["ci95"] is None else f"[{claim['ci95'][0]:.3f}, {claim['ci95'][1]:.3f}]"
    cells = [claim["claim"], claim["paper"], measured, ci, "" if claim["n"] is None else str(claim["n"]),
             claim["source"], claim["preset"] or "", claim["note"]]
    return "| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |"


@contract
def write_report(out: str | Path, timings: Sequence[Mapping[str, Any]]) -> Path:
    """Assemble ``out/claims.json``, ``out/platform.json`` (:func:`aslib.store.reproduction.platform_fingerprint`) and
    ``out/report.md`` from the recorded claims, tables, values and figures; ``timings`` are the rows of
    :func:`execute`."""
    out = Path(out)
    results = out / "results"
    claims = collect_claims(results)
    atomic_write_json(claims, out / "claims.json")
    lines = ["# aslib reproduction report", "",
             "Every number below was measured by the notebooks of this run (`claims.json` holds the claims in "
             "machine-readable form); the paper's values come from its abstract and text.", "",
             "**Headline.** " + headline(claims), "",
             "## Paper claims against this run", "",
             "| claim | paper | measured | 95 % CI | n | source | preset | about |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [_claim_row(claim) for claim in claims]
    platform = platform_fingerprint(default_device())
    atomic_write_json(platform, out / "platform.json")
    lines += ["", "Platform of this run (floating-point results are bitwise the same only where it matches; see "
              "`aslib.store.reproduction`): " + ", ".join(f"{k} {v}" for k, v in platform.items()) + "."]
    lines += ["", "## Notebook run times", "", "| notebook | preset | seconds | skipped |", "|---|---|---|---|"]
    lines += [f"| {r['notebook']} | {r['preset']} | {r['seconds']} | {r['skipped']} |" for r in timings]
    lines += ["", "Seconds are those of the run that produced each notebook (a skipped one kept its earlier run's)."]
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


@contract
def notebook_subject(notebook: str | Path) -> str:
    """What the notebook at ``notebook`` teaches: its first heading without the number (``# 03 · Active neurons``)."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    for cell in cells:
        lines = "".join(cell["source"]).splitlines() if cell["cell_type"] == "markdown" else []
        if lines and lines[0].startswith("# "):
            return lines[0][2:].split("·", 1)[-1].strip()
    raise ValueError(f"{notebook} does not start with a '# NN · Title' heading")


@contract
def notebook_table(folders: Mapping[str, str | Path], notebooks: Sequence[str | Path] | None = None) -> str:
    """Markdown table of the notebooks, what each teaches and its run time in seconds under each preset, read
    from the stamp files of the report folders ``{preset: folder}`` (``-`` where a folder has no timing), and a note
    on the machine: a time is marked ``*`` when other processes used more than :data:`BUSY_CORES` CPU cores while
    the notebook ran (the time an idle machine needs is shorter) and ``?`` when the stamp does not say."""
    notebooks = sorted(Path(nb) for nb in notebooks or shipped_notebooks())
    rows = {}
    for preset, folder in folders.items():
        for nb in notebooks:
            stamp = Path(folder) / f"{nb.stem}.stamp.json"
            row = json.loads(stamp.read_text()) if stamp.exists() else {}
            rows[preset, nb.name] = row if row.get("preset") == preset and "seconds" in row else None

    def shown(row: dict[str, Any] | None) -> str:
        if row is None:
            return "-"
        busy = row.get("other_cores")
        return f"{row['seconds']:.0f}" + ("?" if busy is None else "*" if busy > BUSY_CORES else "")

    head = ["notebook", "what it teaches", *[f"{preset} (s)" for preset in folders]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for nb in notebooks:
        lines.append("| " + " | ".join([nb.name, notebook_subject(nb), *[shown(rows[p, nb.name]) for p in folders]])
                     + " |")
    totals = [None if any(rows[p, nb.name] is None for nb in notebooks) else
              f"{sum(rows[p, nb.name]['seconds'] for nb in notebooks):.0f}" for p in folders]
    lines.append("| all | | " + " | ".join(t or "-" for t in totals) + " |")
    cpus = sorted({row["cpus"] for row in rows.values() if row and row.get("cpus")})
    lines += ["", f"Measured on {' and '.join(map(str, cpus)) or 'an unrecorded number of'} CPU cores. `*`: other "
              f"processes used more than {BUSY_CORES} cores on average during that run, so an idle machine is "
              "faster; `?`: the run did not record the machine's load."]
    return "\n".join(lines)


TABLE_MARKERS = ("<!-- notebook-table:start -->", "<!-- notebook-table:end -->")
"""The lines between which :func:`write_notebook_table` writes :func:`notebook_table` (in the README and the
course map)."""


@contract
def write_notebook_table(page: str | Path, folders: Mapping[str, str | Path]) -> None:
    """Rewrite the block between :data:`TABLE_MARKERS` in the Markdown file ``page`` with the measured
    :func:`notebook_table`."""
    page = Path(page)
    text = page.read_text()
    start, end = TABLE_MARKERS
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{page} needs exactly one {start} ... {end} block for the notebook table")
    before, rest = text.split(start)
    after = rest.split(end)[1]
    page.write_text(f"{before}{start}\n{notebook_table(folders)}\n{end}{after}")


@contract
def run_report(out: str | Path = "report", preset: Preset = "default", force: bool = False,
               notebooks: Sequence[str | Path] | None = None,
               only: list[str] | tuple[str, ...] | None = None) -> Path:
    """Execute ``notebooks`` (default: the shipped ones, :func:`aslib.teach.resources.notebooks`), narrowed to those
    whose
    name starts with one of the number prefixes ``only`` (e.g. ``["01"]``), and write ``out/report.md``."""
    out = Path(out)
    if notebooks is not None and not list(notebooks):
        raise ValueError("notebooks is empty: pass notebook paths, or None for the shipped ones")
    notebooks = (select(sorted(Path(nb) for nb in notebooks), only) if notebooks is not None
                 else shipped_notebooks(only=only))
    start = time.time()
    timings = execute(notebooks, out, preset, force)
    path = write_report(out, timings)
    print(f"[report] wrote {path} in {time.time() - start:.0f} s")
    return path
