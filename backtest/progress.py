"""One progress bar for long commands (sweeps, data fetches): rich, on stderr, only on a terminal.

Redirected output never receives bar frames: when stderr is not a terminal (or ``enabled`` is
False) the bar is silent. Labels are escaped, so an item name like ``[bold]`` shows as typed.
"""

from __future__ import annotations

from types import TracebackType


class ProgressBar:
    """``with ProgressBar("sweep", enabled) as bar: bar.advance(n)`` or ``bar(done, total, item)``."""

    def __init__(self, label: str, enabled: bool = True, total: int | None = None, console=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        custom = console is not None  # a caller's console (tests) is always drawn to
        console = console or Console(stderr=True)
        shown = enabled and (custom or console.is_terminal)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        self.label = label
        self.bar = Progress(*columns, console=console, disable=not shown)
        self.task = self.bar.add_task(label, total=total) if total is not None else None

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.bar.__exit__(exc_type, exc, tb)

    def advance(self, n: int) -> None:
        """``n`` more items done."""
        if self.task is not None:
            self.bar.advance(self.task, n)

    def __call__(self, done: int, total: int, item: str = "") -> None:
        """``done`` of ``total`` items; ``item`` is the one in progress ("" at the end)."""
        from rich.markup import escape

        if self.task is None:
            self.task = self.bar.add_task(self.label, total=total)
        label = f"{self.label} {escape(item)}" if item else self.label
        self.bar.update(self.task, completed=done, total=total, description=label)
