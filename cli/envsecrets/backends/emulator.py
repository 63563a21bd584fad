"""The local AWS emulator (moto's server) for demos and trying things out without AWS."""

from __future__ import annotations

import socket
from typing import Any

from envsecrets.errors import CliError, ExitCode


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start(host: str, port: int) -> Any:
    """Start moto's server on `host:port` in a background thread; returns the server."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        raise CliError(
            ExitCode.USAGE,
            "the emulator needs the 'emulator' extra (moto[server])",
            # As README's "Install for real use" says: the extra of the checkout.
            "from the project's folder: pipx install --force '.[emulator]' "
            "(or pip install '.[emulator]')",
        ) from None
    if not port_is_free(host, port):
        raise CliError(
            ExitCode.REFUSED,
            f"port {port} on {host} is already in use",
            "pick another with --port, or stop what is listening there",
        )
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server
