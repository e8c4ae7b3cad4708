"""One error type for everything a user can cause or fix: bad audio, a missing model, a bad flag.

The CLI prints it as a single line (problem, then the fix) with exit status 2; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations


class CallmonitorError(Exception):
    """A problem the user can fix; ``fix`` says how."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem = problem
        self.fix = fix
