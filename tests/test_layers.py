"""The package's layers only look down: each subpackage may import only those of a lower rank (read from the
source, so a new import that climbs a layer fails here, not in a code review)."""

import ast
from pathlib import Path

import agentdistill

ROOT = Path(agentdistill.__file__).parent
RANK = {  # lowest first; the README's layout section describes the same order
    "errors": 0,
    "paths": 0,
    "llm": 1,
    "config": 2,
    "tools": 2,
    "agents": 3,
    "recsys": 4,
    "tasks": 4,
    "trajectories": 4,
    "distill": 5,
    "pipeline": 6,
    "server": 7,
    "cli": 8,
    "__init__": 8,
}


def imports_by_package() -> dict[str, set[tuple[str, str]]]:
    """{subpackage: {(imported subpackage, importing file)}} over every module of the package."""
    found: dict[str, set[tuple[str, str]]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        package = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("agentdistill."):
                target = node.module.split(".")[1]
                if target != package:
                    found.setdefault(package, set()).add((target, str(rel)))
    return found


def test_every_subpackage_has_a_rank():
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert packages | modules <= set(RANK), sorted((packages | modules) - set(RANK))


def test_imports_only_look_down():
    climbing = sorted(
        f"{file} imports agentdistill.{target}"
        for package, edges in imports_by_package().items()
        for target, file in edges
        if RANK[target] >= RANK[package]
    )
    assert not climbing, climbing


def test_the_cli_and_report_do_not_import_torch_to_start():
    """`agentdistill --help` and `report` stay fast: nothing on the CLI's import path loads torch."""
    import subprocess
    import sys

    code = "import sys, agentdistill.cli, agentdistill.pipeline.report; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
