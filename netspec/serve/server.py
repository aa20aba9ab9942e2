"""Running the `netspec serve` app on uvicorn: bind, say where, serve until Ctrl-C.

    server = LiveServer(create_app("specs"), host="127.0.0.1", port=0)   # port 0: any free one
    server.start_in_thread(); ...; server.stop()                          # tests and benches
    serve_forever(app, host, port, open_browser=True)                     # the command

The socket is bound here, before uvicorn starts, so a port in use is one clear message
(a SetupError naming the port and what to do) rather than uvicorn's log line and exit.
"""

from __future__ import annotations

import socket
import threading
import time
import webbrowser

import uvicorn

from netspec.errors import SetupError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; SetupError when it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise SetupError(f"cannot listen on {host}:{port}: {err.strerror or err}",
                         hint=f"pick another port (--port {port + 1 if port else 8001}, or "
                              f"--port 0 for any free one) or stop what uses it") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class LiveServer:
    """uvicorn serving `app` on an already bound socket."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning"):
        self.socket = bind(host, port)
        self.host, self.port = host, self.socket.getsockname()[1]
        self.url = url_of(host, self.port)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level=log_level,
                                                    access_log=False, lifespan="off"))
        self.thread: threading.Thread | None = None

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C) or stopped."""
        self.server.run(sockets=[self.socket])

    def start_in_thread(self, ready_within: float = 10.0) -> "LiveServer":
        self.thread = threading.Thread(target=self.run, name="netspec-serve", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + ready_within
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(10)
        self.socket.close()


def serve_forever(app, host: str, port: int, open_browser: bool, say=print) -> None:
    """Serve `app` on host:port until Ctrl-C, opening the page in a browser when asked."""
    server = LiveServer(app, host, port, log_level="warning")
    say(f"netspec serve: {server.url}  (Ctrl-C stops it)")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(server.url,)).start()
    server.run()
