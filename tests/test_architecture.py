"""The structure is checked, not described: no import cycle anywhere, and the import contracts hold.

The contracts (layers, forbidden framework imports, okta_security apart from the local IdP) live in
pyproject.toml under ``[tool.importlinter]``; docs/architecture.md explains them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import grimp
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterable

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("okta_security", "okta_local_idp")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def import_cycles(graph: grimp.ImportGraph, modules: Iterable[str]) -> list[tuple[str, ...]]:
    """Return every import cycle through ``modules``, each once, as (module, ..., module)."""
    cycles: set[tuple[str, ...]] = set()
    for module in modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                loop = (module, *back[:-1])
                start = loop.index(min(loop))  # one rotation per cycle, whichever module it was found from
                rotated = loop[start:] + loop[:start]
                cycles.add((*rotated, rotated[0]))
    return sorted(cycles)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package: str) -> None:
    """Fail on any cycle, function-level and TYPE_CHECKING imports included (grimp reads them all)."""
    graph = grimp.build_graph(package, cache_dir=None)
    cycles = import_cycles(graph, sorted(graph.modules))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "cyclic_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic_pkg import b\n")
    (package / "b.py").write_text(textwrap.dedent("def f():\n    from cyclic_pkg import a\n"))
    (package / "c.py").write_text("from cyclic_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("cyclic_pkg", cache_dir=None)
    assert import_cycles(graph, sorted(graph.modules)) == [("cyclic_pkg.a", "cyclic_pkg.b", "cyclic_pkg.a")]


def test_import_contracts_are_kept() -> None:
    """Run import-linter (``lint-imports``, as ``make lint`` does) on pyproject.toml's contracts."""
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


FRAMEWORKS = frozenset(
    {"flask", "flask_appbuilder", "flask_login", "airflow", "sqlalchemy", "werkzeug", "fastapi", "starlette"}
)


def test_every_adapter_module_translates_to_a_framework() -> None:
    """The adapter only translates: a module there that imports no framework belongs in a pure package."""
    graph = grimp.build_graph("okta_security", include_external_packages=True, cache_dir=None)
    idle = [
        module
        for module in sorted(graph.find_children("okta_security.adapter"))
        if not {imported.split(".")[0] for imported in graph.find_modules_directly_imported_by(module)} & FRAMEWORKS
    ]
    assert not idle, f"adapter modules that import no framework (move them out of the adapter): {idle}"
