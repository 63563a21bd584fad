"""init, doctor, emulator: getting set up."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.commands.common import renderer


def register(app: typer.Typer) -> None:
    app.command("emulator")(emulator)


def emulator(
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 4566,
) -> None:
    """Run a local AWS emulator (moto) on 127.0.0.1 until Ctrl-C; needs the `emulator` extra."""
    from cli.backends import emulator as local

    out = renderer()
    url = f"http://127.0.0.1:{port}"
    server = local.start("127.0.0.1", port)
    out.lines(
        [
            f"export AWS_ENDPOINT_URL={url}",
            "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            "export AWS_REGION=us-east-1",
        ]
    )
    out.note(
        f"emulator listening on {url}; paste the lines above into another shell. Ctrl-C stops it."
    )
    try:
        _wait_for_stop()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        out.note("emulator stopped")


def _wait_for_stop() -> None:
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
