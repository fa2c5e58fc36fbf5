"""The aws gateway's two programs, its bootstrap (in the user data) and its sync agent (in the bundle).

They run on the gateway alone, each one file that imports nothing of wgsites, so the formats they share
with the program (ssm_format.py) are rendered into them from templates/gateway/: one definition, and
the rendered text is the very file the gateway runs.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jinja2

from . import ssm_format

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates" / "gateway")),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 - Python source, not HTML
)
_env.filters["python_string"] = json.dumps  # an ASCII str as a double-quoted Python literal


@functools.cache
def bootstrap_source() -> str:
    """wgsites-bootstrap: fetches and checks the bundle, runs its agent. Its text is the user data's: a change replaces the VM."""
    return _env.get_template("wgsites-bootstrap.py.j2").render(ssm=ssm_format)


@functools.cache
def agent_source() -> str:
    """wgsites-sync: applies the bundle in place and publishes the gateway's status."""
    return _env.get_template("wgsites-sync.py.j2").render(ssm=ssm_format)
