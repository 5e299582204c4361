"""Errors the command line turns into one-line messages: bad input exits 2, anything else exits 1."""


class InputError(Exception):
    """The user's input is wrong (missing path, unreadable file, invalid value): exit code 2."""


class EgressError(Exception):
    """An operation failed for a reason the user can act on, not a bug: exit code 1, no traceback."""
