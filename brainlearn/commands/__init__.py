"""Sub-commands of the ``brainlearn`` CLI.

Every module in this package defines ``register(subparsers)``, which adds one
top-level command with ``set_defaults(func=handler)``; ``handler(args)`` returns
the exit code. Modules are discovered automatically, so a new command is a new
file. Keep imports of heavy libraries (brian2, torch) inside the handlers so
``brainlearn --help`` stays fast.
"""
