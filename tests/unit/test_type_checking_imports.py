"""Ports and other collaborators are imported for type checking only (cold
start). A name imported that way does not exist at run time: using it in an
expression (``list[TaggedRecord](...)``, ``isinstance(x, Port)``) fails only
when that line runs. Renaming a tag failed with NameError that way."""

from __future__ import annotations

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"


def names_used_at_run_time_but_imported_for_type_checking(source: str) -> list[tuple[int, str]]:
    if "TYPE_CHECKING" not in source:
        return []
    tree = ast.parse(source)
    nodes = list(ast.walk(tree))
    blocks = [n for n in nodes if isinstance(n, ast.If) and getattr(n.test, "id", None) == "TYPE_CHECKING"]
    only_for_types = {
        (alias.asname or alias.name).split(".")[0]
        for block in blocks
        for statement in block.body
        if isinstance(statement, (ast.Import, ast.ImportFrom))
        for alias in statement.names
    }
    # Never evaluated: TYPE_CHECKING blocks and annotations.
    skipped = {id(n) for block in blocks for n in ast.walk(block)}
    for node in nodes:
        annotations: list[ast.AST | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = [
                *node.args.posonlyargs,
                *node.args.args,
                *node.args.kwonlyargs,
                node.args.vararg,
                node.args.kwarg,
            ]
            annotations += [a.annotation for a in arguments if a is not None]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        skipped.update(id(n) for annotation in annotations if annotation is not None for n in ast.walk(annotation))
    # A name bound at run time too (a local import, a definition) is not only for types.
    for node in nodes:
        if id(node) in skipped:
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            only_for_types -= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            only_for_types.discard(node.name)
    return sorted(
        (node.lineno, node.id)
        for node in nodes
        if isinstance(node, ast.Name) and node.id in only_for_types and id(node) not in skipped
    )


def test_the_check_finds_a_port_used_as_a_value() -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from ports import Port\n"
        "def f(x: Port) -> list[Port]:\n"
        "    y: Port = x\n"
        "    return list[Port]([y])\n"
    )
    assert names_used_at_run_time_but_imported_for_type_checking(source) == [(7, "Port")]


def test_no_module_uses_a_name_it_imports_for_type_checking_only() -> None:
    found = {
        str(path.relative_to(CHALICELIB.parent)): names
        for path in sorted(CHALICELIB.rglob("*.py"))
        if (names := names_used_at_run_time_but_imported_for_type_checking(path.read_text()))
    }
    assert found == {}
