"""The package's layers hold: import-linter checks the contracts of pyproject.toml's
`[tool.importlinter]` (drawn in docs/architecture.md) as `make test` does, so a pytest run alone
also catches an import that crosses a layer, joins two combinations or closes a cycle (lazy,
function-level imports included)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUN_LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; " \
    "sys.exit(lint_imports_command())"


def test_the_import_linter_contracts_are_kept():
    result = subprocess.run(
        [sys.executable, "-c", RUN_LINT_IMPORTS, "--config", str(ROOT / "pyproject.toml"),
         "--no-cache", "--no-logo"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 broken" in output and "KEPT" in output, output
