"""A minimal SMTP server on a real socket that misbehaves on purpose at one point of a message."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


@dataclass
class FlakySmtp:
    """Speaks just enough SMTP; ``break_at`` is "body" (closes after 354, before the body), "terminator" (reads
    the whole message, then closes without replying) or "" (accepts). ``accepted`` counts
    messages whose terminator arrived: the ones a real server might have queued."""

    break_at: str = ""
    port: int = 0
    accepted: int = 0
    _sock: socket.socket = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._sock.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 flaky ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 flaky\r\n")
                elif verb == b"DATA":
                    if self.break_at == "body":
                        # Closes before the message is complete: nothing can be accepted. The 354
                        # and the close leave in one segment (TCP_CORK holds the reply until the
                        # close pushes it out with the FIN), so the client finds the connection
                        # closed when it checks before the terminator, however this thread is
                        # scheduled; a 354 sent first and a close left for later let a loaded CI
                        # machine send the terminator and count the email "outcome unknown".
                        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                        conn.sendall(b"354 go ahead\r\n")
                        self._hold_close()
                        return
                    conn.sendall(b"354 go ahead\r\n")
                    if not self._read_body(conn, lines):
                        return
                    conn.sendall(b"250 2.0.0 Ok: queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 OK\r\n")

    def _hold_close(self) -> None:
        """Where the thread may be descheduled between the reply and the close (a test can widen it)."""

    def _read_body(self, conn: socket.socket, lines) -> bool:
        for line in lines:
            if line == b".\r\n":
                self.accepted += 1
                return self.break_at != "terminator"
        return False
