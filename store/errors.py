"""Exceptions raised by the store.

Every message is one line meant for an operator's terminal or a Slack reply, so callers can print
``str(exc)`` instead of a stack trace. Messages never contain a DSN password.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked: bad URL, unreachable database, schema too new, I/O error."""


class NotFoundError(StoreError):
    """An update named a record that does not exist (lookups return ``None`` instead)."""


class AlreadyExistsError(StoreError):
    """A create call reused the id of an existing record; ids are chosen by callers, so this is a bug."""


class InvalidTransitionError(StoreError):
    """A proposal state change that the lifecycle forbids, whatever the current state is."""
