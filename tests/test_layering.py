"""Dependencies point one way: ``ledger`` knows nothing of the web, documents or the API.

``ledger`` (every module of it) must load without Flask, marshmallow,
flask-smorest, WeasyPrint, Jinja2, ``api`` or ``invoices``; and
``ledger.books`` imports nothing from the rest of ``ledger`` but
``ledger.money``, both in its source and when it is loaded.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ledger
import ledger.books

FORBIDDEN = ("flask", "marshmallow", "flask_smorest", "weasyprint", "jinja2", "api", "invoices")
BOOKS_DIR = Path(ledger.books.__file__).parent


def loaded_modules(code: str) -> list[str]:
    """``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(ledger.__file__).parent.parent,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def offending(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in roots]


IMPORT_ALL_OF_LEDGER = """
import importlib, pkgutil, ledger
for module in pkgutil.walk_packages(ledger.__path__, "ledger."):
    importlib.import_module(module.name)
"""


def test_every_ledger_module_loads_without_the_web_or_documents() -> None:
    modules = loaded_modules(IMPORT_ALL_OF_LEDGER)
    assert "ledger.books.journal" in modules  # the walk did import the package
    assert "ledger.money" in modules
    assert offending(modules, FORBIDDEN) == []


def test_the_check_sees_a_forbidden_import() -> None:
    """The subprocess check is not vacuous: importing the API does load Flask."""
    modules = loaded_modules("import api")
    assert {"flask", "api"} <= {m.split(".")[0] for m in offending(modules, FORBIDDEN)}


def test_loading_ledger_books_loads_no_other_part_of_ledger() -> None:
    modules = loaded_modules("import ledger.books")
    ours = {m for m in modules if m == "ledger" or m.startswith("ledger.")}
    assert "ledger.books.journal" in ours
    assert {m for m in ours if m != "ledger" and not allowed_for_books(m)} == set()
    assert offending(modules, FORBIDDEN) == []


def ledger_imports(source: str, module: str) -> set[str]:
    """The ``ledger`` modules a module's source imports, resolved to absolute names.

    ``module`` is the importing module's dotted name (for relative imports).
    """
    package = module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if node.module is None or target in ("ledger",):
                # ``from . import x`` / ``from ledger import x`` import submodules by name.
                found.update(f"{target}.{alias.name}" for alias in node.names)
            else:
                found.add(target)
    return {name for name in found if name == "ledger" or name.startswith("ledger.")}


def allowed_for_books(name: str) -> bool:
    return name in ("ledger.money", "ledger.books") or name.startswith("ledger.books.")


@pytest.mark.parametrize(
    "path", sorted(BOOKS_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(BOOKS_DIR))
)
def test_ledger_books_imports_from_ledger_only_ledger_money(path: Path) -> None:
    relative = path.relative_to(BOOKS_DIR.parent.parent).with_suffix("")
    module = ".".join(relative.parts)  # a package's __init__ resolves ".." from the package
    imports = ledger_imports(path.read_text(encoding="utf-8"), module)
    assert [name for name in sorted(imports) if not allowed_for_books(name)] == []


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from ledger.school import billing", {"ledger.school"}),
        ("import ledger.audit.checks", {"ledger.audit.checks"}),
        ("from .. import school", {"ledger.school"}),
        ("from ..school.models import Household", {"ledger.school.models"}),
        ("from ledger import database", {"ledger.database"}),
    ],
)
def test_the_source_check_sees_a_forbidden_import(source: str, bad: set[str]) -> None:
    imports = ledger_imports(source, "ledger.books.journal")
    assert {name for name in imports if not allowed_for_books(name)} == bad


@pytest.mark.parametrize(
    "source",
    [
        "from ledger.money import allocate",
        "from ..money import parse_amount",
        "from .. import money",
        "from .chain import digest",
        "from . import models",
        "import ledger.money",
        "from ledger.books.errors import DomainError",
    ],
)
def test_the_source_check_allows_money_and_the_books_themselves(source: str) -> None:
    imports = ledger_imports(source, "ledger.books.journal")
    assert imports
    assert all(allowed_for_books(name) for name in imports)


IMPORT_ALL_OF_INVOICES = """
import importlib, pkgutil, invoices
for module in pkgutil.walk_packages(invoices.__path__, "invoices."):
    importlib.import_module(module.name)
"""


def test_invoices_load_without_the_web_or_the_api() -> None:
    """``api -> invoices -> ledger``: documents know the domain, never the web layer."""
    modules = loaded_modules(IMPORT_ALL_OF_INVOICES)
    assert {"invoices.render", "invoices.archive", "invoices.batch"} <= set(modules)
    assert "weasyprint" in {m.split(".")[0] for m in modules}  # the walk did load the renderer
    assert offending(modules, ("flask", "marshmallow", "flask_smorest", "api")) == []
