"""The regularizer registry: built-ins, then plugins from installed packages (the entry-point group
``regbench.regularizers``), then plugin files a suite names (``plugins: [my_reg.py]``).

The public API for plugin authors is what this module exports; see docs/plugins.md.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

from ..registry import Registry
from .base import BadHyperparameter, Regularizer, weight_layers
from .validate import problems

REGULARIZERS = Registry("regularizer")

BUILTINS = ("none", "spectral_norm", "wgan_gp", "weight_clipping", "batch_norm", "layer_norm",
            "weight_norm", "orthonormal")
ENTRY_POINT_GROUP = "regbench.regularizers"


class PluginError(ValueError):
    """A plugin that cannot be used; the message names the plugin and the problem."""


_origin = ["built-in"]  # where registrations come from while a plugin is being imported


@contextlib.contextmanager
def _registering_from(origin: str):
    _origin.append(origin)
    try:
        yield
    finally:
        _origin.pop()


def register_regularizer(name: str, *, origin: str | None = None):
    """Class decorator: ``@register_regularizer("my_reg")`` on a Regularizer subclass. The class is
    checked first (hooks callable as the trainer calls them, plain defaults, a known loss)."""
    origin = origin or _origin[-1]

    def add(cls):
        if name in REGULARIZERS:
            raise PluginError(f"regularizer {name!r} ({origin}): the name is taken by {REGULARIZERS.origin(name)}; "
                              "register it under another name")
        found = problems(cls, plugin=origin != "built-in")
        if found:
            raise PluginError(f"regularizer {name!r} ({origin}): {'; '.join(found)}")
        try:
            cls.resolve_params({})
        except BadHyperparameter as exc:
            raise PluginError(f"regularizer {name!r} ({origin}): {exc}") from None
        cls.name = name
        return REGULARIZERS.register(name, origin=origin)(cls)

    return add


def create_regularizer(name: str, **params) -> Regularizer:
    return REGULARIZERS.get(name)(**params)


def list_regularizers() -> list[str]:
    return REGULARIZERS.names()


def _load_entry_points() -> dict[str, str]:
    """Import third-party plugins; a broken one is reported (name -> message), the rest still load."""
    found = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point {ep.value}" + (f" from {ep.dist.name} {ep.dist.version}" if ep.dist else "")
        before = set(REGULARIZERS.names())
        try:
            with _registering_from(origin):
                obj = ep.load()
                if ep.name not in REGULARIZERS or REGULARIZERS.get(ep.name) is not obj:  # else its module did
                    register_regularizer(ep.name)(obj)
        except PluginError as exc:
            found[ep.name] = f"regularizer plugin {ep.name!r} not loaded: {exc}"
        except Exception as exc:  # a plugin's failure must not take the harness (or other plugins) down
            found[ep.name] = (f"regularizer plugin {ep.name!r} ({origin}) not loaded: import failed: "
                              f"{type(exc).__name__}: {exc}")
        if ep.name in found:
            for name in set(REGULARIZERS.names()) - before:  # nothing half-loaded stays registered
                REGULARIZERS.remove(name)
    return found


_FILES: dict[Path, list[str]] = {}


def load_plugin_file(path: str | Path) -> list[str]:
    """Import a plugin file (once per process) and return the regularizer names it registered; any
    problem is a PluginError naming the file."""
    path = Path(path).resolve()
    if path in _FILES:
        return _FILES[path]
    if not path.is_file():
        raise PluginError(f"plugin file {path}: not found")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    module_name = f"regbench_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin file {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    before = set(REGULARIZERS.names())
    sys.modules[module_name] = module
    try:
        with _registering_from(f"file {path}"):
            spec.loader.exec_module(module)
    except Exception as exc:
        for name in set(REGULARIZERS.names()) - before:
            REGULARIZERS.remove(name)
        sys.modules.pop(module_name, None)
        detail = str(exc) if isinstance(exc, PluginError) else f"import failed: {type(exc).__name__}: {exc}"
        raise PluginError(f"plugin file {path}: {detail}") from None
    names = sorted(set(REGULARIZERS.names()) - before)
    if not names:
        raise PluginError(f"plugin file {path}: registers no regularizer (decorate a Regularizer subclass "
                          "with @register_regularizer('name'))")
    _FILES[path] = names
    return names


for _name in BUILTINS:
    import_module(f"{__name__}.{_name}")

PLUGIN_PROBLEMS = _load_entry_points()
REGULARIZERS.hints.update(PLUGIN_PROBLEMS)  # "unknown regularizer 'x'" then says why x did not load

__all__ = ["REGULARIZERS", "Regularizer", "BadHyperparameter", "PluginError", "register_regularizer",
           "create_regularizer", "list_regularizers", "load_plugin_file", "weight_layers", "PLUGIN_PROBLEMS"]
