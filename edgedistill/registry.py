"""One generic registry: register / get / names, with "did you mean …" on a miss."""

from __future__ import annotations

import difflib
from typing import Generic, TypeVar

T = TypeVar("T")


def suggest(name: str, known) -> str:
    """The fix for an unknown name: "did you mean 'x'?" when one is close, else the known names."""
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"


class Registry(Generic[T]):
    """A named table of factories, filled explicitly in one place per package."""

    def __init__(self, what: str, plugin_group: str | None = None):
        self.what = what
        self.plugin_group = plugin_group  # entry-point group outside packages register into
        self._items: dict[str, T] = {}
        self._plugins_loaded = plugin_group is None

    def _load_plugins(self) -> None:
        """Once, on first look-up: add what installed packages publish under `plugin_group`.
        Built-in names win; a plugin cannot silently replace one."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.plugin_group):
            if ep.name not in self._items:
                self._items[ep.name] = ep.load()

    def register(self, name: str, item: T | None = None):
        """Register `item` under `name`; usable as a decorator when `item` is omitted."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.what} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return add(item) if item is not None else add

    def get(self, name: str) -> T:
        """Look `name` up; a miss raises KeyError whose message suggests the closest names."""
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """The one-line explanation for an unknown name, with a suggestion when one is close."""
        return f"unknown {self.what} {name!r}; {suggest(name, self._items)}"

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load_plugins()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        self._load_plugins()
        return name in self._items
