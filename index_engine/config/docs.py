"""Generate the key tables of ``docs/config.md`` from the config models (one source of truth).

Each table sits between ``<!-- keys: SECTION -->`` and ``<!-- /keys -->`` markers; the prose around
them is written by hand. ``python -m index_engine.config.docs [docs/config.md]`` rewrites the tables;
``tests/test_config_docs.py`` fails when the page and the models disagree.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from index_engine.config.index import IndexConfig

HEADER = "| key | type | default | allowed | contract | meaning |\n|---|---|---|---|---|---|"
_MARKER = re.compile(r"(<!-- keys: (?P<section>[\w.]+) -->\n)(?P<body>.*?)(<!-- /keys -->)", re.S)


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (Union, types.UnionType):
        inner = _type_name(args[0]) if len(args) == 1 else " or ".join(_type_name(a) for a in args)
        return f"{inner} or null"
    if origin is Literal:
        return "string"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin is list:
        return f"list of {_type_name(args[0])}s" if args else "list"
    if origin is dict:
        return f"mapping {_type_name(args[0])} → {_type_name(args[1])}" if args else "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    names = {int: "int", float: "float", str: "string", bool: "bool"}
    return names.get(annotation, getattr(annotation, "__name__", "date"))


def _default(field) -> str:
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value in ("", "index") else f"`{value}`"
    if isinstance(value, list):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        nested = _nested_model(field.annotation)
        if nested is not None and "allowed" not in extra:
            rows += _rows(nested, dotted + ".")
            continue
        contract = "yes" if extra.get("contract") else "no"
        rows.append(f"| `{dotted}` | {_type_name(field.annotation)} | {_default(field)} | {extra.get('allowed', '')} "
                    f"| {contract} | {field.description or ''} |")
        if nested is not None:
            rows += _rows(nested, dotted + ".")
    return rows


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for a in (annotation, *typing.get_args(annotation)):
        if isinstance(a, type) and issubclass(a, BaseModel):
            return a
    return None


def key_table(section: str) -> str:
    """The markdown table of one top-level section (``top`` = the top-level scalar keys)."""
    if section == "top":
        fields = {k: f for k, f in IndexConfig.model_fields.items() if _nested_model(f.annotation) is None}
        model = type("Top", (BaseModel,), {"__annotations__": {k: f.annotation for k, f in fields.items()}, **fields})
        return "\n".join([HEADER, *_rows(model, "")])
    nested = _nested_model(IndexConfig.model_fields[section].annotation)
    if nested is None:
        raise KeyError(f"{section!r} is not a config section")
    return "\n".join([HEADER, *_rows(nested, section + ".")])


def update_doc(text: str) -> str:
    """``text`` with every marked table regenerated."""
    return _MARKER.sub(lambda m: m.group(1) + key_table(m.group("section")) + "\n" + m.group(4), text)


def main(argv: list[str]) -> int:
    """Rewrite the tables of the page named in ``argv`` (default docs/config.md); exit status 0."""
    path = Path(argv[0] if argv else "docs/config.md")
    old = path.read_text(encoding="utf-8")
    new = update_doc(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
        print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
