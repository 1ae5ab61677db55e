"""The one user-facing error type. The CLI prints it as one line and exits with 2."""


class SizeupError(Exception):
    """Bad input from the user: an unknown name, a malformed file, a bad size."""
