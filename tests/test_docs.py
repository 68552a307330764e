"""The repository documents itself: docs pages link only to files that exist, and nothing points outside."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_docs_pages_link_only_to_existing_files():
    pages = sorted((ROOT / "docs").glob("*.md"))
    assert {p.name for p in pages} >= {"index.md", "active_subspaces.md", "asnet.md", "attacks.md", "differences.md"}
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).resolve().exists(), f"{page.name}: broken link {target!r}"


def test_nothing_refers_to_documents_outside_the_repository():
    files = [*ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("aslib/**/*.py")]
    for path in files:
        text = path.read_text()
        assert "method.md" not in text and "../shared/docs" not in text, f"{path.relative_to(ROOT)} points outside"


def test_licence_and_citation_name_the_paper():
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    citation = (ROOT / "CITATION.cff").read_text()
    assert "10.1137/19M1296070" in citation and "1910.13025" in citation
