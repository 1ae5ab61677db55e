"""The `sizeup` command (also `python -m harness`): Ctrl-C while it is still starting up ends it quietly."""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


def main() -> int:
    from harness import signals

    signals.install()  # before the imports below start threads (BLAS pools) that would take the signals
    try:
        from harness.cli import main as cli_main
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
