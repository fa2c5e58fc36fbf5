"""Suite-wide setup.

hypothesis is imported here, at collection, in the main thread: its pytest plugin imports it
lazily otherwise, and when that first import happens inside a Pulumi SDK worker thread,
pytest's assertion rewriting hits a CPython 3.11.7 bug ("SystemError: AST constructor
recursion depth mismatch").
"""

import hypothesis  # noqa: F401
