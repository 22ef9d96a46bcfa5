"""No code path in gmrl may unpickle a file: checkpoints are safetensors + JSON."""

import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "gmrl"
FORBIDDEN = [
    re.compile(r"^\s*(import|from)\s+(c?pickle|dill|joblib)\b", re.MULTILINE),
    re.compile(r"\btorch\.load\("),
    re.compile(r"allow_pickle\s*=\s*True"),
    re.compile(r"\b(PPO|A2C|DQN|SAC|TD3|BaseAlgorithm)\.load\("),
]


def test_no_pickle_loading_in_sources() -> None:
    offenders = [
        f"{path.relative_to(SOURCE)}: {pattern.pattern}"
        for path in SOURCE.rglob("*.py")
        for pattern in FORBIDDEN
        if pattern.search(_code_only(path.read_text()))
    ]
    assert not offenders, offenders


def _code_only(text: str) -> str:
    """Drop docstrings and comments, which may mention the forbidden calls to warn about them."""
    text = re.sub(r'"""[\s\S]*?"""', "", text)
    return re.sub(r"#.*", "", text)
