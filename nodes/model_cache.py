"""A small cache of loaded models, keyed by file identity (path, size, mtime) and options.

Only complete loads are stored, so a failed or interrupted load never leaves a half-built model
behind; the host's own output cache still applies on top.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Callable, Iterable

MAX_ENTRIES = 2


def file_identity(paths: Iterable[str]) -> tuple:
    ident = []
    for path in paths:
        stat = os.stat(path)
        ident.append((os.path.abspath(path), stat.st_size, stat.st_mtime_ns))
    return tuple(ident)


class ModelCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._entries: OrderedDict[tuple, Any] = OrderedDict()
        self._max = max_entries

    def get_or_load(self, key: tuple, load: Callable[[], Any]) -> Any:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        value = load()
        self._entries[key] = value
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
