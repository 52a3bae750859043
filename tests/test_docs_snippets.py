"""The Python in docs/testing.md is valid and does what the page says: every block compiles, and the
`@reproduce_failure` recipe replays the exact example of a real failure."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_python_block_of_testing_md_compiles():
    blocks = _python_blocks()
    assert len(blocks) >= 3
    for i, block in enumerate(blocks):
        if block.lstrip().startswith(("markets(", "index_configs(")):  # signatures, shown as calls
            continue
        compile(block, f"docs/testing.md block {i}", "exec")


def _recipe() -> str:
    (block,) = [b for b in _python_blocks() if "@reproduce_failure(" in b]
    return block


def _failing_blob() -> tuple[str, str, str]:
    """(version, blob, market hash) of a real failure of a property over market_and_config()."""
    import hypothesis
    from hypothesis import Phase, given, settings

    from index_engine.testing import market_and_config

    seen: list[str] = []

    @settings(deadline=None, print_blob=True, database=None, max_examples=5, phases=[Phase.generate])
    @given(market_and_config())
    def prop(market_config):
        seen.append(market_config[0].content_hash())
        raise AssertionError("a deliberate failure")

    with pytest.raises(AssertionError) as info:
        prop()
    text = "\n".join(getattr(info.value, "__notes__", []))
    found = re.search(r"@reproduce_failure\('([^']+)', (b'[^']*')\)", text)
    assert found, text
    assert found.group(1) == hypothesis.__version__
    return found.group(1), found.group(2), seen[-1]


def test_the_reproduce_failure_recipe_replays_the_failing_example():
    version, blob, failed_hash = _failing_blob()
    snippet = _recipe()
    line = re.compile(r'@reproduce_failure\("[^"]+", b"[^"]*"\)')
    assert line.search(snippet), "the recipe no longer has the decorator line this test fills in"
    snippet = line.sub(lambda _: f'@reproduce_failure("{version}", {blob})', snippet)
    namespace: dict = {}
    exec(compile(snippet, "docs/testing.md (reproduce recipe)", "exec"), namespace)
    replayed: list[str] = []

    def spy(result, market):  # the recipe's check, replaced to record which market it saw
        replayed.append(market.content_hash())
        raise AssertionError("still failing")

    namespace["check_result_invariants"] = spy
    with pytest.raises(AssertionError, match="still failing"):
        namespace["test_any_config_on_any_market"]()
    assert replayed == [failed_hash]  # exactly that one example, nothing else
