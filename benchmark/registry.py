"""One small generic registry: name -> factory.

Modelled on timm's ``register_model``: a registry is a plain dict behind a
decorator, and ``get``/``names`` are the only ways in. Regularizers, losses,
architectures and datasets each get one.
"""
from __future__ import annotations

from typing import Callable, Iterator


class UnknownName(KeyError):
    """A name that is not registered; the message lists what is."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable] = {}
        self._origins: dict[str, str] = {}
        self.hints: dict[str, str] = {}  # name -> why it is not registered (a plugin that failed to load)

    def register(self, name: str, *, origin: str = "built-in") -> Callable:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{self.kind} name must be an identifier, got {name!r}")

        def add(obj: Callable) -> Callable:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered (from {self._origins[name]})")
            self._entries[name] = obj
            self._origins[name] = origin
            return obj

        return add

    def get(self, name: str) -> Callable:
        try:
            return self._entries[name]
        except KeyError:
            if name in self.hints:
                raise UnknownName(self.hints[name]) from None
            raise UnknownName(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}") from None

    def remove(self, name: str) -> None:
        """Undo a registration (a plugin that failed half-way through loading)."""
        self._entries.pop(name, None)
        self._origins.pop(name, None)

    def origin(self, name: str) -> str:
        return self._origins[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
