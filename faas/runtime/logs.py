"""Log tagging: every line printed during a call is prefixed `[<call id>] `.

`install_log_tagging` replaces sys.stdout and sys.stderr with TaggedWriters that write whole
lines straight to fds 1 and 2 (unbuffered, so nothing is lost when the container is killed).
The call running on a thread is `current_call.id`, set by the adapter around each call.
"""

from __future__ import annotations

import io
import os
import sys
import threading

_MAX_PENDING_LOG = 64 * 1024  # a partial log line longer than this is written out anyway

current_call = threading.local()  # .id: the call running on this thread, or None


def current_call_id() -> str | None:
    """The id of the call running on this thread, if any."""
    return getattr(current_call, "id", None)


class TaggedWriter(io.TextIOBase):
    """A text stream for sys.stdout/sys.stderr writing lines straight to a file descriptor.

    Lines written during a call are prefixed `[<call id>] `. Partial lines are held per thread
    until their newline (or the end of the call), so concurrent calls never share a line.
    """

    encoding = "utf-8"
    errors = "backslashreplace"

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._pending = threading.local()  # .text: this thread's unfinished line
        self._lock = threading.Lock()  # one line at a time, whole lines together

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        buffered: str = getattr(self._pending, "text", "") + text
        if "\n" not in buffered:
            if len(buffered) > _MAX_PENDING_LOG:
                buffered += "\n"
            else:
                self._pending.text = buffered
                return len(text)
        complete, _, rest = buffered.rpartition("\n")
        self._pending.text = rest
        self._emit(complete)
        return len(text)

    def flush(self) -> None:
        # Inside a call a partial line waits for its newline, so it is tagged once, whole.
        if current_call_id() is None:
            self._emit_pending(newline=False)

    def end_line(self) -> None:
        """Write out this thread's partial line, if any, ending it (called at the end of a call)."""
        self._emit_pending(newline=True)

    def _emit_pending(self, newline: bool) -> None:
        text = getattr(self._pending, "text", "")
        if text:
            self._pending.text = ""
            self._emit(text, newline)

    def _emit(self, text: str, newline: bool = True) -> None:
        call_id = current_call_id()
        if call_id is not None:
            prefix = f"[{call_id}] "
            text = prefix + text.replace("\n", "\n" + prefix)
        data = (text + "\n" if newline else text).encode("utf-8", "backslashreplace")
        with self._lock:
            try:
                while data:
                    data = data[os.write(self._fd, data) :]
            except OSError:
                pass  # a closed log pipe must not fail the call

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def writable(self) -> bool:
        return True


def end_call_output() -> None:
    """Flush this thread's partial lines on the tagged streams, before the call id goes."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, TaggedWriter):
            stream.end_line()


def install_log_tagging() -> None:
    """Replace sys.stdout and sys.stderr with unbuffered TaggedWriters on fds 1 and 2."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    sys.stdout = TaggedWriter(1)
    sys.stderr = TaggedWriter(2)
