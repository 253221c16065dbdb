"""Mail transports chosen by EMAIL_URL: SMTP(S), ``.eml`` files, and an in-memory twin for tests.

Every transport hands out a *batch* (a context manager) so the SMTP one can reuse one connection
for many messages. Errors are classified into temporary ones (worth retrying later: the server is
down, busy, or answered 4xx) and permanent ones (5xx for this message, an unusable address).
"""

from __future__ import annotations

import select
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from storage.files import atomic_write

DEFAULT_TIMEOUT_SECONDS = 15.0


class DeliveryError(Exception):
    """A message could not be delivered; ``temporary`` says whether a retry may succeed."""

    temporary: bool = True


class TemporaryDeliveryError(DeliveryError):
    """Retry later: connection refused, timeout, 4xx, or a transport misconfiguration."""

    temporary = True


class TransportUnavailable(TemporaryDeliveryError):
    """The transport itself is down, so the rest of the batch should not be attempted now."""


class PermanentDeliveryError(DeliveryError):
    """Do not retry: the server rejected this message or recipient with a 5xx."""

    temporary = False


class DeliveryOutcomeUnknown(PermanentDeliveryError):
    """The connection broke after the message data was sent; the server may have accepted it.

    Retrying could deliver it twice, so it is treated like a permanent failure and recorded.
    """


class SendAborted(Exception):
    """``before_terminator`` said no (our claim on the email is gone): nothing was completed."""


# Called once the message body has been transmitted and just before the DATA terminator (the
# point after which the server may accept it); returning False aborts without completing it.
BeforeTerminator = Callable[[], bool]


class MailBatch(Protocol):
    """An open delivery session; ``send`` returns the provider's id for the message."""

    def send(self, message: EmailMessage, before_terminator: BeforeTerminator | None = None) -> str: ...


class MailTransport(Protocol):
    """A delivery backend that opens batches."""

    def batch(self) -> AbstractContextManager[MailBatch]: ...


# --- SMTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """Connection settings parsed from ``smtp://user:pass@host:port?starttls=1`` or ``smtps://``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    starttls: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)


class _DataReplyMixin:
    """DATA in two steps around the point of no return, remembering the server's reply.

    smtplib's ``data`` sends body and terminator in one write; here the body goes first, then
    ``before_terminator`` runs (the dispatcher commits its start mark), then the terminator. So
    a failure before ``terminator_sent`` provably left nothing accepted, and only a failure after
    it leaves the outcome unknown.
    """

    last_data_reply: bytes = b""
    terminator_sent: bool = False
    before_terminator: BeforeTerminator | None = None

    def data(self, msg):  # type: ignore[no-untyped-def]
        self.putcmd("data")  # type: ignore[attr-defined]
        code, repl = self.getreply()  # type: ignore[attr-defined]
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        if isinstance(msg, str):
            msg = smtplib._fix_eols(msg).encode("ascii")  # type: ignore[attr-defined]
        body = smtplib._quote_periods(msg)  # type: ignore[attr-defined]
        if body[-2:] != smtplib.bCRLF:
            body += smtplib.bCRLF
        self.send(body)  # type: ignore[attr-defined]
        if self.before_terminator is not None and not self.before_terminator():
            raise SendAborted("our claim on this email was taken away before it was completed")
        if _peer_closed(self.sock):  # type: ignore[attr-defined]
            # Writes into a closed connection succeed locally; sending the terminator now would
            # turn a message the server provably dropped into an "outcome unknown".
            raise smtplib.SMTPServerDisconnected("the server closed the connection during the message body")
        self.terminator_sent = True
        self.send(b"." + smtplib.bCRLF)  # type: ignore[attr-defined]
        code, reply = self.getreply()  # type: ignore[attr-defined]
        self.last_data_reply = reply
        return code, reply


def _peer_closed(sock: socket.socket | None) -> bool:
    """True when the server has already closed its side (an end-of-file is waiting to be read)."""
    if sock is None:
        return True
    if isinstance(sock, ssl.SSLSocket):
        return False  # TLS cannot peek; such a break is caught by the reply instead
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _SMTP(_DataReplyMixin, smtplib.SMTP):
    pass


class _SMTPSSL(_DataReplyMixin, smtplib.SMTP_SSL):
    pass


class SmtpTransport:
    """Delivers over SMTP, one connection per batch, reconnecting after a dropped connection."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    @contextmanager
    def batch(self) -> Iterator[SmtpBatch]:
        """Open a batch; the connection is made lazily on the first send and closed at the end."""
        batch = SmtpBatch(self.config)
        try:
            yield batch
        finally:
            batch.close()


class SmtpBatch:
    """One reusable SMTP connection."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: _SMTP | _SMTPSSL | None = None
        self.connections_opened = 0

    def send(self, message: EmailMessage, before_terminator: BeforeTerminator | None = None) -> str:
        """Send one message and return the server's reply to DATA (or the Message-ID)."""
        smtp = self._connection()
        smtp.terminator_sent, smtp.before_terminator = False, before_terminator
        try:
            smtp.send_message(message)
        except (smtplib.SMTPException, OSError, UnicodeEncodeError) as exc:
            raise self._classified(exc, smtp) from exc
        except BaseException:
            # Aborted, or the start mark could not be written: the connection is mid-DATA, and
            # closing it without a terminator makes the server discard the message.
            self._drop()
            raise
        finally:
            smtp.before_terminator = None
        reply = smtp.last_data_reply.decode("utf-8", "replace").strip()
        return reply or str(message["Message-ID"])

    def _classified(self, exc: Exception, smtp: _SMTP | _SMTPSSL) -> DeliveryError:
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            self._drop()
            return _broken_connection(exc, smtp.terminator_sent)
        if isinstance(exc, smtplib.SMTPException):  # a subclass of OSError, so it must come first
            return classify_smtp_error(exc)
        if isinstance(exc, OSError):
            self._drop()
            return _broken_connection(exc, smtp.terminator_sent)
        return PermanentDeliveryError(f"address needs SMTPUTF8, which we do not send: {exc}")

    def close(self) -> None:
        """Say QUIT politely; a connection that is already gone is fine."""
        if self._smtp is None:
            return
        try:
            self._smtp.quit()
        except (smtplib.SMTPException, OSError):
            self._smtp.close()
        self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _connection(self) -> _SMTP | _SMTPSSL:
        if self._smtp is None:
            self._smtp = self._connect()
            self.connections_opened += 1
        return self._smtp

    def _connect(self) -> _SMTP | _SMTPSSL:
        cfg = self.config
        # Loading the system CA bundle costs tens of milliseconds, so only TLS sessions pay it.
        context = cfg.ssl_context or (ssl.create_default_context() if cfg.use_ssl or cfg.starttls else None)
        try:
            if cfg.use_ssl:
                smtp: _SMTP | _SMTPSSL = _SMTPSSL(cfg.host, cfg.port, timeout=cfg.timeout, context=context)
            else:
                smtp = _SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            if cfg.starttls:
                smtp.starttls(context=context)
            if cfg.username:
                smtp.login(cfg.username, cfg.password or "")
        except (smtplib.SMTPException, OSError) as exc:
            # Refusals at connect, TLS or login time are about our setup or the server's health,
            # never about one message, so they are retried rather than failing the message.
            raise TransportUnavailable(f"cannot open SMTP session to {cfg.host}:{cfg.port}: {exc}") from exc
        return smtp


def _broken_connection(exc: BaseException, terminator_sent: bool) -> DeliveryError:
    # Until the DATA terminator is sent the server cannot accept the message (an idle connection
    # the server closed, a refused connection, a break mid-body), so a retry is safe; after it,
    # only the lost reply knew.
    if terminator_sent:
        return DeliveryOutcomeUnknown(f"connection lost after the DATA terminator, server may have accepted it: {exc!r}")
    return TransportUnavailable(f"SMTP connection lost before the message was complete: {exc!r}")


def classify_smtp_error(exc: smtplib.SMTPException) -> DeliveryError:
    """Map an smtplib error for one message to a temporary or permanent delivery error."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{addr}: {code} {msg!r}" for addr, (code, msg) in exc.recipients.items())
        if codes and all(code >= 500 for code in codes):
            return PermanentDeliveryError(f"recipient refused: {detail}")
        return TemporaryDeliveryError(f"recipient deferred: {detail}")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        # A refused envelope sender (or "530 issue STARTTLS first") is about our setup and would
        # refuse every message alike, so it must not mark this one message as dead.
        return TransportUnavailable(f"sender refused: {exc.smtp_code} {exc.smtp_error!r}")
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
        if exc.smtp_code >= 500:
            return PermanentDeliveryError(text)
        return TemporaryDeliveryError(text)
    return TemporaryDeliveryError(str(exc))


# --- Files ---------------------------------------------------------------------------------------


class FileTransport:
    """Writes one ``.eml`` file per message, atomically, named after the Message-ID."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @contextmanager
    def batch(self) -> Iterator[FileTransport]:
        """Files need no session; the transport is its own batch."""
        self.directory.mkdir(parents=True, exist_ok=True)
        yield self

    def send(self, message: EmailMessage, before_terminator: BeforeTerminator | None = None) -> str:
        """Write the message; a resend of the same Message-ID replaces the file, never duplicates it."""
        name = _file_name(message)
        if before_terminator is not None and not before_terminator():
            raise SendAborted("our claim on this email was taken away")
        try:
            atomic_write(self.directory / name, message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
        except OSError as exc:
            raise TransportUnavailable(f"cannot write {name}: {exc}") from exc
        return name


def _file_name(message: EmailMessage) -> str:
    message_id = str(message.get("Message-ID", "")).strip("<>")
    safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in message_id)
    return f"{safe or 'message'}.eml"


# --- Memory --------------------------------------------------------------------------------------


@dataclass
class MemoryTransport:
    """Keeps sent messages in a list; ``failures`` maps a recipient to the error to raise."""

    sent: list[EmailMessage] = field(default_factory=list)
    failures: dict[str, DeliveryError] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def batch(self) -> Iterator[MemoryTransport]:
        """The memory transport is its own batch."""
        yield self

    def send(self, message: EmailMessage, before_terminator: BeforeTerminator | None = None) -> str:
        """Record the message, or raise the configured failure for its recipient."""
        recipient = message["To"].addresses[0].addr_spec
        if recipient in self.failures:
            raise self.failures[recipient]
        if before_terminator is not None and not before_terminator():
            raise SendAborted("our claim on this email was taken away")
        with self.lock:
            self.sent.append(message)
        return str(message["Message-ID"])


_MEMORY_TRANSPORTS: dict[str, MemoryTransport] = {}


def transport_from_url(url: str, ssl_context: ssl.SSLContext | None = None) -> SmtpTransport | FileTransport | MemoryTransport:
    """Pick the transport for EMAIL_URL (smtp://, smtps://, file:///dir, memory://name)."""
    parts = urlsplit(url)
    if parts.scheme in ("smtp", "smtps"):
        return SmtpTransport(_smtp_config(url, ssl_context))
    if parts.scheme == "file":
        return FileTransport(Path(unquote(parts.path)))
    if parts.scheme == "memory":
        # Named memory transports are shared so a test can inspect what the code under test sent.
        return _MEMORY_TRANSPORTS.setdefault(parts.netloc or "default", MemoryTransport())
    raise ValueError(f"unsupported EMAIL_URL scheme {parts.scheme!r}")


def _smtp_config(url: str, ssl_context: ssl.SSLContext | None) -> SmtpConfig:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    use_ssl = parts.scheme == "smtps"
    return SmtpConfig(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if use_ssl else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_ssl=use_ssl,
        starttls=query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
        timeout=float(query.get("timeout", [DEFAULT_TIMEOUT_SECONDS])[0]),
        ssl_context=ssl_context,
    )
