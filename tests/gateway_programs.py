"""The aws gateway's bootstrap and sync agent as modules a test can drive: the very text the gateway runs."""

from __future__ import annotations

import sys
import types

from wgsites.rendering.gateway_programs import agent_source, bootstrap_source


def _module(name: str, source: str, filename: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module  # as an import would: dataclasses and pickling look a class's module up there
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - wgsites' own rendered program
    return module


def agent_module(name: str = "wgsites_sync") -> types.ModuleType:
    return _module(name, agent_source(), "wgsites-sync.py")


def bootstrap_module(name: str = "wgsites_bootstrap") -> types.ModuleType:
    return _module(name, bootstrap_source(), "wgsites-bootstrap.py")
