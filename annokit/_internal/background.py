"""One function run on a thread of its own while the caller goes on (private)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Background"]

T = TypeVar("T")


class Background(Generic[T]):
    """``fn(*args)`` started on a helper thread; :meth:`result` waits for it and returns its value or raises its
    error. Worth it where ``fn`` and the caller's own work leave the interpreter lock in numpy / C code.

    >>> job = Background(sum, [1, 2, 3])
    >>> job.result()
    6
    """

    def __init__(self, fn: Callable[..., T], *args: object) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="annokit-background", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., T], args: tuple[object, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def done(self) -> bool:
        """Whether ``fn`` has returned or raised."""
        return not self._thread.is_alive()

    def result(self) -> T:
        """``fn``'s value (waiting for it), or its error raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when fn returned
