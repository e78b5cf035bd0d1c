"""Name → class registries: models, losses and fusion strategies are picked by name, never by if-chains."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from pointseg.errors import InputError

T = TypeVar("T")


class Registry(dict, Generic[T]):
    """A dict of classes by name with a registering decorator and a builder.

    ``kind`` names what is registered ("loss", "fusion", "model") in messages.
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator adding the class under ``name`` (a second, different class is an error)."""

        def decorate(cls: type[T]) -> type[T]:
            if name in self and self[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} is already registered ({self[name].__qualname__})")
            self[name] = cls
            return cls

        return decorate

    def lookup(self, name: str) -> type[T]:
        """The class registered as ``name``; :class:`InputError` listing the known names."""
        if name not in self:
            raise InputError(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(sorted(self))}")
        return self[name]

    def build(self, name: str, **kwargs) -> T:
        """An instance of the class registered as ``name``; :class:`InputError` listing the known names."""
        return self.lookup(name)(**kwargs)
