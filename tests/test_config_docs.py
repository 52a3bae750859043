"""docs/config.md's key tables are generated from the config models and must not drift."""

from __future__ import annotations

from pathlib import Path

from index_engine.config import IndexConfig
from index_engine.config.docs import key_table, update_doc

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_config_doc_tables_match_the_models():
    text = DOC.read_text(encoding="utf-8")
    assert update_doc(text) == text, "run: python -m index_engine.config.docs docs/config.md"


def test_every_key_is_documented_with_meaning_and_allowed_values():
    text = DOC.read_text(encoding="utf-8")
    for section in IndexConfig.model_fields:
        assert (f"<!-- keys: {section} -->" in text) or section in ("name", "description"), section
    for line in (key_table("top") + "\n" + "\n".join(key_table(s) for s in IndexConfig.model_fields
                                                       if s not in ("name", "description"))).splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "key" or cells[0].startswith("---"):
            continue
        assert cells[3] and cells[5], f"{cells[0]}: every key needs 'allowed' and a meaning"
