"""Output whose reader went away (`shipdeck status | head -1`): end quietly, never a traceback.

Standard library only: the CLI entry point imports this before any command runs.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


def stdout_to_devnull() -> None:
    """After stdout's reader closed the pipe, send what is left to devnull.

    The recipe from Python's signal docs: without it the interpreter's final flush at exit
    raises a second BrokenPipeError.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


class DiagnosticsStream:
    """stderr that drops what it cannot deliver once its reader is gone.

    A release must not stop (or spin on a step that keeps failing to print) because nobody
    reads its diagnostics any more; the journal keeps every event.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                self.reader_gone = True
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self.reader_gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
