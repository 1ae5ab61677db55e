"""The one user-facing error type. The CLI prints it as one line and exits with 2."""

from collections.abc import Iterable


class SizeupError(Exception):
    """Bad input from the user: an unknown name, a malformed file, a bad size."""


class Stopped(BaseException):
    """SIGTERM or SIGHUP, raised where the run is, so that it cleans up as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """" (did you mean 'regression'?)" for a near miss of one of `known`; else ''."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def described(exc: BaseException) -> str:
    """An exception as 'TypeName: the first line of its message', for a one-line reason."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


# Exit codes: 0 done; 2 bad input or an I/O error (nothing half-written); 3 `run` finished but some cases
# failed; 4 `compare --fail` found a real slowdown; 128 + N stopped by signal N.
EXIT_USAGE = 2
EXIT_CASES_FAILED = 3
EXIT_SLOWER = 4
