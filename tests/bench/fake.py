"""A fake registry of tiny scripts (one writes JSON, one fails, one exits 0 writing nothing)."""

import json
from pathlib import Path
from typing import Any

from gmrl.bench.registry import Benchmark
from gmrl.bench.tables import markdown_table

GOOD = """import json, sys
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1])
out.parent.mkdir(parents=True, exist_ok=True)
value = 7 if "--quick" in sys.argv else 70
out.write_text(json.dumps({"score": value}))
print("done")
"""
BAD = """import sys
print("about to fail")
print("line one of the failure", file=sys.stderr)
raise SystemExit("bad things happened")
"""
SILENT = "print('nothing written')\n"


def _table(data: Any, log: str) -> list[str]:
    return markdown_table(["score", "log"], [[str(data["score"]), log.strip()]])


def fake_registry(root: Path) -> tuple[Benchmark, ...]:
    """Write the scripts under `root/benchmarks/` and return their registry."""
    folder = root / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in {"bad": BAD, "good": GOOD, "silent": SILENT}.items():
        (folder / f"{name}.py").write_text(text)
    return (
        Benchmark("bad", "fails on purpose", "benchmarks/bad.py", ("--quick",), (),
                  "{out}/bad.json", None, table=_table),
        Benchmark("missing", "has no script yet", None, note="coming later"),
        Benchmark("good", "writes JSON", "benchmarks/good.py",
                  ("--quick", "--out", "{out}/good.json"), ("--out", "{out}/good.json"),
                  "{out}/good.json", "{out}/good.json", table=_table),
        Benchmark("silent", "exits 0 without its JSON", "benchmarks/silent.py",
                  (), (), "{out}/silent.json", None, table=_table),
    )


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
