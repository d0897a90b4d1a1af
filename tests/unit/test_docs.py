"""The repository's documents point at things that exist: links stay inside the repository and resolve, and the
make targets and `python -m` modules they tell a reader to run are there."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", "ARCHITECTURE.md", "functions/README.md", "infra/README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


@pytest.mark.parametrize("document", DOCUMENTS)
def test_links_resolve_inside_the_repository(document: str) -> None:
    path = ROOT / document
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+://", target):
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        assert resolved.is_relative_to(ROOT), f"{document}: {target} leaves the repository"
        assert resolved.exists(), f"{document}: {target} does not exist"
        if anchor:
            assert anchor in anchors(resolved), f"{document}: no heading for #{anchor} in {resolved.name}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_no_document_points_outside_the_repository(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    assert "../shared" not in text


def test_every_make_target_the_documents_name_exists() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))
    for document in DOCUMENTS:
        named = set(re.findall(r"`make ([a-z][\w-]*)", (ROOT / document).read_text(encoding="utf-8")))
        assert named <= targets, f"{document} names make targets the Makefile lacks: {sorted(named - targets)}"


def test_every_python_module_the_documents_run_exists() -> None:
    for document in DOCUMENTS:
        for module in re.findall(r"python -m ([a-z_][\w.]*)", (ROOT / document).read_text(encoding="utf-8")):
            assert importlib.util.find_spec(module) is not None, f"{document}: python -m {module} does not exist"
