"""The one error a stack's mistakes raise, wherever they are found (the stack file, the program's config,
a file to import or write): each message names the key, the value and the fix; `check`, the CLI and the
program print them without a traceback.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """One or more user mistakes in a stack file; str() lists them one per line."""

    def __init__(self, messages: list[str]):
        self.messages = messages
        super().__init__("\n".join(messages))
