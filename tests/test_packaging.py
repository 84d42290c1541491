"""A pip install of the library ships every data file it reads: each non-Python file under playmate_core/
must match a package-data pattern of its package in pyproject.toml (setuptools leaves unmatched files out)."""

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_library_data_file_is_declared_as_package_data():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = meta["tool"]["setuptools"]["package-data"]
    missing = []
    for path in sorted((ROOT / "playmate_core").rglob("*")):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ROOT)
        declared = False
        for package, globs in patterns.items():
            base = Path(*package.split("."))
            if base in rel.parents:
                inner = rel.relative_to(base).as_posix()
                declared |= any(fnmatch.fnmatch(inner, g) for g in globs)
        if not declared:
            missing.append(rel.as_posix())
    assert not missing, f"add these to [tool.setuptools.package-data] in pyproject.toml: {missing}"
