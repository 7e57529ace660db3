"""Architectures: each registered factory builds a (generator, discriminator) pair.

A factory receives the regularizer's build-time hooks as two callables
(``wrap_layer``, ``normalization``) and never the regularizer itself, so the
models know nothing of regularization.
"""
from importlib import import_module

from ..registry import Registry
from .init import INITS

ARCHITECTURES = Registry("architecture")

for _name in ("standard_cnn", "resnet"):
    import_module(f"{__name__}.{_name}")


def create_models(name: str, **kwargs):
    return ARCHITECTURES.get(name)(**kwargs)


__all__ = ["ARCHITECTURES", "INITS", "create_models"]
