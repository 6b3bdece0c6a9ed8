"""Load a YAML file into a pydantic model, with errors that name the file, the line and the field.

People edit pool and scenario files by hand; "pools.0.nodes.1.gpus.0.replicas: must be >= 1"
is only half an answer without the line it is on. PyYAML's composer knows every node's position,
so the loader keeps a map from the path of each value to its line and translates pydantic's
error locations through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

Loc = tuple[str | int, ...]


class FileError(ValueError):
    """A file that cannot be used, with every problem found: `path:line: field: message`."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}:{p}" for p in problems))


def _scalar(node: yaml.Node) -> Any:
    """Construct a node with the safe loader's rules (null for `key:`, ints, dates...)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    """Turn a composed YAML node into plain Python, recording the 1-based line of every value."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            lines[(*loc, key)] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, (*loc, key), lines)
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*loc, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def parse_yaml(text: str, path: str = "<string>") -> tuple[Any, dict[Loc, int]]:
    """Parse YAML text; return the data and a map from value path to line number."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise FileError(path, [f"{line}: not valid YAML: {problem}"]) from exc
    lines: dict[Loc, int] = {}
    if node is None:
        return None, lines
    return _walk(node, (), lines), lines


def line_for(loc: Loc, lines: Mapping[Loc, int]) -> int:
    """The line of the deepest part of `loc` in the file (a missing field: its parent)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 0


def validate(model: type[M], data: Any, lines: Mapping[Loc, int], path: str) -> M:
    """Validate parsed data against `model`, translating errors to `line: field: message`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            field = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{line_for(loc, lines)}: {field}: {err['msg']}")
        raise FileError(path, problems) from exc


def read_text(path: Path) -> str:
    """The file's text; FileError if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileError(str(path), [f"0: cannot read: {exc.strerror}"]) from exc


def load_model(model: type[M], path: Path) -> M:
    """Read `path` and validate it as `model`; raise FileError naming the file, line and field."""
    return load_model_text(model, read_text(path), str(path))


def load_model_text(model: type[M], text: str, path: str = "<string>") -> M:
    """Like load_model, for text already in memory (an upload, a test)."""
    return load_model_lines(model, text, path)[0]


def load_model_lines(
    model: type[M], text: str, path: str = "<string>"
) -> tuple[M, Mapping[Loc, int]]:
    """Like load_model_text, with the map from value path to line for checks made afterwards."""
    data, lines = parse_yaml(text, path)
    return validate(model, data, lines, path), lines
