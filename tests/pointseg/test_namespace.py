"""One import namespace and one-way imports.

The folders ``annotate/``, ``pseudo/`` and ``train/`` install as ``pointseg.annotate``, ``pointseg.pseudo`` and
``pointseg.train`` (``package-dir`` in ``pyproject.toml``). A user's own ``train.py`` or ``train/`` must not
change which code pointseg runs, and the packages import each other only one way (see the design notes).
"""

from __future__ import annotations

import ast
import subprocess
import sys

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"pointseg": "pointseg", "pointseg.annotate": "annotate", "pointseg.pseudo": "pseudo",
           "pointseg.train": "train"}


def test_a_users_train_module_and_folder_change_nothing(tmp_path):
    (tmp_path / "train.py").write_text("raise RuntimeError('the user train.py was imported')\n")
    for name in ("train_pkg", "pseudo", "annotate"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise RuntimeError('the user {name}/ was imported')\n")
    (tmp_path / "train_pkg").rename(tmp_path / "train_dir")
    code = ("import pointseg.train.planar, pointseg.pseudo.pipeline, pointseg.annotate.reader, pointseg.cli; "
            "print(pointseg.train.planar.__file__); print(pointseg.pseudo.pipeline.__file__); "
            "print(pointseg.annotate.reader.__file__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, encoding="utf-8",
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    files = [Path(line) for line in result.stdout.split()]
    assert [f.relative_to(ROOT).parts[0] for f in files] == ["train", "pseudo", "annotate"]
    # and the user's train.py is still theirs: pointseg installs no top-level train module
    result = subprocess.run([sys.executable, "-c", "import train"], cwd=tmp_path, capture_output=True,
                            encoding="utf-8", timeout=300)
    assert "the user train.py was imported" in result.stderr


def test_no_top_level_train_pseudo_or_annotate_is_installed(tmp_path):
    code = "import importlib.util as u; print([u.find_spec(n) is None for n in ('train', 'pseudo', 'annotate')])"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, encoding="utf-8",
                            timeout=300)
    assert result.stdout.strip() == "[True, True, True]", result.stderr[-2000:]


def test_pyproject_lists_every_package_folder():
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    package_dir = {"pointseg": "pointseg", **setuptools["package-dir"]}
    assert {k: v for k, v in package_dir.items()} == FOLDERS
    expected = set()
    for package, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            expected.add(".".join((package, *parts)))
    assert set(setuptools["packages"]) == expected


def _imports(path: Path, module_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    if module_level_only:  # also imports under a module-level ``if``/``try``
        nodes = [n for top in tree.body if not isinstance(top, (ast.FunctionDef, ast.ClassDef,
                                                                 ast.AsyncFunctionDef)) for n in ast.walk(top)]
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _reaches(names: set[str], package: str) -> bool:
    return any(name == package or name.startswith(package + ".") for name in names)


@pytest.mark.parametrize("folder, forbidden, module_level_only", [
    ("pointseg", ("pointseg.train", "pointseg.pseudo", "pointseg.annotate"), True),
    ("pseudo", ("pointseg.train", "pointseg.annotate"), False),
    ("train", ("pointseg.pseudo", "pointseg.annotate"), False),
])
def test_imports_flow_one_way(folder, forbidden, module_level_only):
    offenders = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        names = _imports(path, module_level_only)
        offenders += [f"{path.relative_to(ROOT)} imports {p}" for p in forbidden if _reaches(names, p)]
    assert not offenders
