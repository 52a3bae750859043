"""Reading YAML safely and turning validation errors into one readable message.

``read_yaml`` refuses what would otherwise crash deep inside a parser or hang the error formatter:
files that are not UTF-8 text, files larger than ``MAX_YAML_BYTES``, duplicated keys (YAML keeps the
last silently), alias bombs (more than ``MAX_ALIASES`` alias expansions), nesting deeper than
``MAX_DEPTH`` and impossible dates such as ``2017-02-30``. Every problem is a ``ConfigError``
naming the file and, where known, the line.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from index_engine.errors import ConfigError

MAX_YAML_BYTES = 5_000_000
MAX_ALIASES = 100
MAX_DEPTH = 50
_SHOW = reprlib.Repr()
_SHOW.maxstring, _SHOW.maxother, _SHOW.maxlist, _SHOW.maxdict, _SHOW.maxlevel = 80, 80, 6, 6, 3


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, alias bombs and deep nesting."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ConfigError(f"line {mark.line + 1}: more than {MAX_ALIASES} YAML aliases (*refs); "
                                  "a config never needs that many (alias bomb?)")
        depth = getattr(self, "_depth", 0)
        if depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise ConfigError(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
        self._depth = depth + 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            k = self.construct_object(key_node, deep=True)
            try:
                hash(k)
            except TypeError:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: a mapping key must be text or a number, "
                                  f"got {type(k).__name__}") from None
            if k in seen:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {_SHOW.repr(k)} (first on line "
                                  f"{seen[k]}); YAML would silently keep the last one")
            seen[k] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _construct_timestamp(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise ConfigError(f"line {node.start_mark.line + 1}: {node.value!r} is not a valid date ({exc})") from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text with the strict loader; ``ConfigError`` names ``source``."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {_one_line(str(exc))}") from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a config") from None


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """Parsed YAML of ``path``; ``ConfigError`` naming the file when it is missing, not a regular
    file, too large, not UTF-8 text or not valid YAML."""
    path = Path(path)
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: {what} not found" if not path.exists() else f"{path}: {what} is not a file")
        if path.stat().st_size > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: {what} is larger than {MAX_YAML_BYTES // 1_000_000} MB; not a config")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if "\x00" in text:
        raise ConfigError(f"{path}: {what} contains NUL bytes; not a text file")
    return parse_yaml(text, str(path))


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def show_value(value: Any) -> str:
    """A short, safe rendering of a user value for messages (bounded length and depth)."""
    return _one_line(_SHOW.repr(value), 120)


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One line per problem: the dotted key, what was expected and (briefly) what was given."""
    lines = [f"{source}: invalid config"]
    for err in exc.errors(include_url=False)[:20]:
        where = ".".join(str(p) for p in err["loc"]) or "<top level>"
        if err["type"] == "extra_forbidden":
            lines.append(f"  - {where}: unknown key (check the spelling; see docs/config.md)")
            continue
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {show_value(got)})"
        lines.append(f"  - {where}: {_one_line(err['msg'], 200)}{shown}")
    if len(exc.errors()) > 20:
        lines.append(f"  - ... {len(exc.errors()) - 20} more problems")
    return "\n".join(lines)
