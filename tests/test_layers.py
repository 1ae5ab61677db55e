"""The one-way flow, kept by a test over the imports: records import nothing above them; measuring never
calls analysis; analysis and sizing import neither the run side nor the renderers; workloads import no
harness at all. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400

# What each part of the harness may import, besides itself, the standard library and third-party libraries.
ALLOWED = {
    "records": {"harness.errors", "harness.signals", "workloads.base"},
    "run": {"harness", "harness.errors", "harness.signals", "harness.phases", "harness.records", "workloads"},
    "analysis": {"harness.errors", "harness.records"},
    "sizing": {"harness.errors", "harness.records", "harness.analysis"},
    "present": {"harness.errors", "harness.records", "harness.analysis", "harness.sizing"},
}


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imports(path: Path) -> set[str]:
    """The harness and workloads modules `path` imports; `from package import module` names the module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            folder = ROOT.joinpath(*node.module.split("."))
            found |= {f"{node.module}.{a.name}" if (folder / f"{a.name}.py").exists() or (folder / a.name).is_dir()
                      else node.module for a in node.names}
    return {name for name in found if name.split(".")[0] in ("harness", "workloads")}


def allowed(name: str, part: str) -> bool:
    """`harness` itself (its version) is allowed as such, not as a prefix: its parts are listed one by one."""
    return any(name == ok or (ok != "harness" and name.startswith(ok + "."))
               for ok in ALLOWED[part] | {f"harness.{part}"})


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_what_lies_below_it(part: str) -> None:
    wrong = sorted(f"{path.relative_to(ROOT)}: {name}" for path in modules(f"harness/{part}")
                   for name in imports(path) if not allowed(name, part))
    assert not wrong, wrong


def test_workloads_never_import_the_harness() -> None:
    wrong = {f"{path.relative_to(ROOT)}: {name}" for path in modules("workloads") for name in imports(path)
             if name.startswith("harness")}
    assert not wrong, sorted(wrong)


def test_no_module_passes_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for folder in ("harness", "workloads") for p in modules(folder)
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_only_the_records_spell_or_parse_a_case_id() -> None:
    """Outside harness/records, nothing matches a case id with a regular expression (`/n=`, `/t=`)."""
    found = {f"{p.relative_to(ROOT)}:{i}" for folder in ("harness", "workloads") for p in modules(folder)
             if "records" not in p.parts for i, line in enumerate(p.read_text().splitlines(), start=1)
             if ("/n=" in line or "/t=" in line or "n=\\d" in line) and not line.lstrip().startswith(("#", '"""'))}
    assert not found, sorted(found)
