"""Deprecated alias: the command registry is :mod:`cilnb.commands` (``register``, ``COMMANDS``)."""
from ._util import deprecated_module


def _register(sub) -> None:
    """The old ``cli_commands.register``: every command but ``figures``."""
    from .commands import COMMANDS, register

    register(sub, [name for name in COMMANDS if name != "figures"])


__getattr__ = deprecated_module(__name__, {"register": "cilnb.cli_commands:_register"}, "cilnb.commands")
