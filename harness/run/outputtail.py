"""A worker's output, of which only the end is kept: a case may print gigabytes.

The worker writes to a pipe; a thread in the harness drains it into a buffer bounded to
TAIL_BYTES, so neither the harness's memory nor the disk grows with what a case prints.
"""

from __future__ import annotations

import os
import threading

TAIL_BYTES = 64 * 2**10
TAIL_LINES = 20


class OutputTail:
    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()  # both non-inheritable; Popen hands write_fd to the worker
        self.total_bytes = 0
        self._tail = bytearray()
        self._thread = threading.Thread(target=self._drain, name="sizeup-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while chunk := os.read(self.read_fd, 1 << 16):
            self.total_bytes += len(chunk)
            self._tail += chunk
            if len(self._tail) > 2 * TAIL_BYTES:  # trim in batches: each trim copies the buffer
                del self._tail[:-TAIL_BYTES]
        os.close(self.read_fd)

    def close_writer(self) -> None:
        """Once the worker is started: the harness's copy of the write end must not keep the pipe open."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def text(self, timeout_s: float = 2.0) -> str:
        """The last TAIL_LINES lines, once every writer is gone (or after `timeout_s`)."""
        self.close_writer()
        self._thread.join(timeout_s)
        lines = bytes(self._tail[-TAIL_BYTES:]).decode(errors="replace").splitlines()[-TAIL_LINES:]
        if self.total_bytes > TAIL_BYTES:
            lines.insert(0, f"[... {self.total_bytes:,} bytes of output; the last {len(lines)} lines:]")
        return "\n".join(lines)
