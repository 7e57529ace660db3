"""The regularizer registry: built-ins, then plugins from installed packages."""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from ..registry import Registry
from .base import BadHyperparameter, Regularizer, weight_layers

REGULARIZERS = Registry("regularizer")

BUILTINS = ("none", "spectral_norm", "wgan_gp", "weight_clipping", "batch_norm", "layer_norm",
            "weight_norm", "orthonormal")


def register_regularizer(name: str, *, origin: str = "built-in"):
    """Class decorator: ``@register_regularizer("my_reg")`` on a Regularizer subclass."""

    def add(cls):
        if not (isinstance(cls, type) and issubclass(cls, Regularizer)):
            raise TypeError(f"regularizer {name!r} must be a subclass of benchmark.regularizers.Regularizer")
        cls.name = name
        cls.resolve_params({})  # validates that defaults are plain values
        return REGULARIZERS.register(name, origin=origin)(cls)

    return add


def create_regularizer(name: str, **params) -> Regularizer:
    return REGULARIZERS.get(name)(**params)


def list_regularizers() -> list[str]:
    return REGULARIZERS.names()


def _load_entry_points() -> list[str]:
    """Import third-party plugins; a broken one is reported, the rest still load."""
    problems = []
    for ep in entry_points(group="regbench.regularizers"):
        try:
            cls = ep.load()
            if ep.name not in REGULARIZERS:
                register_regularizer(ep.name, origin=f"entry point {ep.value}")(cls)
        except Exception as exc:  # a plugin's failure must not take the harness down
            problems.append(f"regularizer plugin {ep.name!r} ({ep.value}) not loaded: {exc}")
    return problems


for _name in BUILTINS:
    import_module(f"{__name__}.{_name}")

PLUGIN_PROBLEMS = _load_entry_points()

__all__ = ["REGULARIZERS", "Regularizer", "BadHyperparameter", "register_regularizer", "create_regularizer",
           "list_regularizers", "weight_layers", "PLUGIN_PROBLEMS"]
