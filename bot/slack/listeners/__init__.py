"""Bolt listeners, one module per kind of request, each with a `register(app, deps)`.

Callbacks are plain async functions taking their collaborators as arguments, so each can be
called directly with fakes; `register` only binds them to Bolt's request arguments.
"""
