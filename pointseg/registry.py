"""Name → class registries: models, losses, pipelines, predictors and post-processing steps are picked by
name, never by if-chains, and the command line takes its choices and their help from them.

An entry is either a class registered with the :meth:`Registry.register` decorator, or a *lazy* entry
(:meth:`Registry.register_lazy`): ``"module:attribute"`` imported the first time the name is looked up, with
its one-line help given at registration, so a registry can list names and help (``--help``) without
importing PyTorch or the modules that define them, and a low module can name a class of a higher one
without importing it.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, TypeVar

from pointseg.errors import InputError

T = TypeVar("T")


class _Lazy:
    """A registry entry not imported yet: ``target`` is ``"module:attribute"``."""

    def __init__(self, target: str, help: str):
        self.target = target
        self.help = help

    def load(self):
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


def first_line(text: str | None) -> str:
    """The first sentence line of a docstring ("" when there is none)."""
    return (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""


class Registry(dict, Generic[T]):
    """A dict of classes by name with a registering decorator, lazy entries and a builder.

    ``kind`` names what is registered ("loss", "fusion", "model") in messages. Iterating gives the names
    in registration order; ``registry[name]`` and :meth:`lookup` give the class (importing a lazy entry).
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self._help: dict[str, str] = {}

    def register(self, name: str, help: str | None = None) -> Callable[[type[T]], type[T]]:
        """Class decorator adding the class under ``name`` (a second, different class is an error; a lazy
        entry of the same name is replaced by its class). ``help``: one line for ``--help`` (default: the
        first line of the class's docstring)."""

        def decorate(cls: type[T]) -> type[T]:
            if name in self and not isinstance(dict.__getitem__(self, name), _Lazy) and self[name] is not cls:
                raise ValueError(f"{self.kind} {name!r} is already registered ({self[name].__qualname__})")
            dict.__setitem__(self, name, cls)
            self._help[name] = help if help is not None else self._help.get(name) or first_line(cls.__doc__)
            return cls

        return decorate

    def register_lazy(self, name: str, target: str, help: str) -> None:
        """Add ``name`` for the class ``"module:attribute"``, imported when first looked up."""
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        dict.__setitem__(self, name, _Lazy(target, help))
        self._help[name] = help

    def __getitem__(self, name: str) -> type[T]:
        entry = dict.__getitem__(self, name)
        if isinstance(entry, _Lazy):
            entry = entry.load()
            dict.__setitem__(self, name, entry)
        return entry

    def values(self):  # type: ignore[override]
        return [self[name] for name in self]

    def items(self):  # type: ignore[override]
        return [(name, self[name]) for name in self]

    def names(self) -> list[str]:
        return list(self)

    def help(self, name: str) -> str:
        """The one-line help of ``name``."""
        return self._help.get(name, "")

    def describe(self, default: str | None = None, indent: str = "") -> str:
        """Every name with its help, one per line (``default`` marked), for ``--help`` texts."""
        lines = []
        for name in self:
            mark = " (default)" if name == default else ""
            lines.append(f"{indent}{name}{mark}: {self.help(name)}" if self.help(name) else f"{indent}{name}{mark}")
        return "\n".join(lines)

    def add_option(self, parser, flag: str, default: str | None, what: str, **options) -> None:
        """An argparse option (or positional) ``flag`` whose choices are the registered names, with each
        name's one-line help in ``--help``: a name is typed once, where it is registered."""
        if flag.startswith("-"):
            options.update(default=default, metavar="NAME")
        described = "; ".join(f"{name}: {self.help(name).rstrip('.')}" if self.help(name) else name for name in self)
        parser.add_argument(flag, choices=tuple(self), help=f"{what}: {described}", **options)

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.keys(self)))

    def lookup(self, name: str) -> type[T]:
        """The class registered as ``name``; :class:`InputError` listing the known names."""
        if name not in self:
            raise InputError(f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(sorted(self))}")
        return self[name]

    def build(self, name: str, **kwargs) -> T:
        """An instance of the class registered as ``name``; :class:`InputError` listing the known names."""
        return self.lookup(name)(**kwargs)
