"""Ports and other collaborators are imported for type checking only (cold
start). A name imported that way does not exist at run time: using it in an
expression (``list[TaggedRecord](...)``, ``isinstance(x, Port)``) fails only
when that line runs. Renaming a tag failed with NameError that way."""

from __future__ import annotations

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parents[2] / "chalicelib"


def _type_checking_blocks(tree: ast.Module) -> list[ast.If]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
    ]


def _annotation_nodes(tree: ast.Module) -> set[int]:
    """Every node inside an annotation or a TYPE_CHECKING block: never evaluated."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        annotations: list[ast.AST] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            annotations += [a.annotation for a in arguments if a.annotation is not None]
            annotations += [a.annotation for a in (node.args.vararg, node.args.kwarg) if a and a.annotation]
            if node.returns is not None:
                annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            skipped.update(id(n) for n in ast.walk(annotation))
    for block in _type_checking_blocks(tree):
        skipped.update(id(n) for n in ast.walk(block))
    return skipped


def names_used_at_run_time_but_imported_for_type_checking(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    only_for_types: set[str] = set()
    for block in _type_checking_blocks(tree):
        for statement in block.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                only_for_types |= {(a.asname or a.name).split(".")[0] for a in statement.names}
    inside_blocks = {id(n) for block in _type_checking_blocks(tree) for n in ast.walk(block)}
    # A name bound at run time too (a local import, a definition) is not only for types.
    for node in ast.walk(tree):
        if id(node) in inside_blocks:
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            only_for_types -= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            only_for_types.discard(node.name)
    skipped = _annotation_nodes(tree)
    return sorted(
        (node.lineno, node.id)
        for node in ast.walk(tree)
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
