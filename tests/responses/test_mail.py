"""Mail transports against a real aiosmtpd server on loopback, plus the file and memory twins."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from storage.mail import (
    FileTransport,
    MemoryTransport,
    PermanentDeliveryError,
    SmtpTransport,
    TemporaryDeliveryError,
    TransportUnavailable,
    transport_from_url,
)
from tests.responses.smtp_server import (
    RecordingHandler,
    authenticator,
    free_port,
    self_signed_context,
    start_server,
)


def make_message(to: str = "seller@example.com", n: int = 1) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "no-reply@peermetals.com"
    message["To"] = to
    message["Subject"] = f"test {n}"
    message["Message-ID"] = f"<m{n}@peermetals.com>"
    message["X-PeerGuard-Notice"] = "response-reminder"
    message.set_content("hello")
    return message


@pytest.fixture
def smtp():
    handler = RecordingHandler()
    controller = start_server(handler)
    yield handler, controller
    if controller._thread is not None:  # a test may have stopped it already
        controller.stop()


def test_smtp_delivers_many_messages_over_one_connection(smtp):
    handler, controller = smtp
    transport = transport_from_url(f"smtp://127.0.0.1:{controller.port}")
    with transport.batch() as batch:
        ids = [batch.send(make_message(n=n)) for n in range(5)]
    assert batch.connections_opened == 1
    assert ids[0].startswith("2.0.0 Ok: queued as Q")
    assert [m["Subject"] for m in handler.messages] == [f"test {n}" for n in range(5)]
    assert handler.messages[0]["X-PeerGuard-Notice"] == "response-reminder"


def test_5xx_recipient_is_permanent_and_4xx_is_temporary_and_batch_continues(smtp):
    handler, controller = smtp
    with transport_from_url(f"smtp://127.0.0.1:{controller.port}").batch() as batch:
        with pytest.raises(PermanentDeliveryError, match="550"):
            batch.send(make_message("reject@example.com"))
        with pytest.raises(TemporaryDeliveryError, match="451"):
            batch.send(make_message("defer@example.com"))
        batch.send(make_message("ok@example.com"))
    assert len(handler.messages) == 1 and batch.connections_opened == 1


def test_connection_refused_is_temporary_transport_unavailable():
    transport = transport_from_url(f"smtp://127.0.0.1:{free_port()}?timeout=2")
    with transport.batch() as batch, pytest.raises(TransportUnavailable):
        batch.send(make_message())


def test_smtp_auth_over_plain_loopback():
    handler = RecordingHandler()
    controller = start_server(handler, authenticator=authenticator, auth_require_tls=False)
    try:
        good = transport_from_url(f"smtp://mailer:s3cret@127.0.0.1:{controller.port}")
        with good.batch() as batch:
            batch.send(make_message())
        bad = transport_from_url(f"smtp://mailer:wrong@127.0.0.1:{controller.port}?timeout=3")
        # A wrong password is our misconfiguration, not the message's fault: retry later.
        with bad.batch() as batch, pytest.raises(TransportUnavailable):
            batch.send(make_message())
    finally:
        controller.stop()
    assert len(handler.messages) == 1


def test_starttls(tmp_path):
    server_ctx, client_ctx = self_signed_context(tmp_path)
    handler = RecordingHandler()
    controller = start_server(handler, tls_context=server_ctx, require_starttls=True)
    try:
        transport = transport_from_url(f"smtp://127.0.0.1:{controller.port}?starttls=1", ssl_context=client_ctx)
        with transport.batch() as batch:
            batch.send(make_message())
        plain = transport_from_url(f"smtp://127.0.0.1:{controller.port}")
        with plain.batch() as batch, pytest.raises(TemporaryDeliveryError):
            batch.send(make_message(n=2))
    finally:
        controller.stop()
    assert len(handler.messages) == 1


def test_smtps_implicit_tls(tmp_path):
    server_ctx, client_ctx = self_signed_context(tmp_path)
    handler = RecordingHandler()
    controller = start_server(handler, ssl_context=server_ctx)
    try:
        transport = transport_from_url(f"smtps://127.0.0.1:{controller.port}", ssl_context=client_ctx)
        assert isinstance(transport, SmtpTransport) and transport.config.use_ssl
        with transport.batch() as batch:
            batch.send(make_message())
    finally:
        controller.stop()
    assert len(handler.messages) == 1


def test_server_restart_mid_batch_reconnects_on_next_send(smtp):
    handler, controller = smtp
    port = controller.port
    with transport_from_url(f"smtp://127.0.0.1:{port}").batch() as batch:
        batch.send(make_message(n=1))
        controller.stop()
        with pytest.raises(TransportUnavailable):
            batch.send(make_message(n=2))
        restarted = start_server(handler, port=port)
        try:
            batch.send(make_message(n=3))
        finally:
            restarted.stop()
    assert [m["Subject"] for m in handler.messages] == ["test 1", "test 3"]


def test_file_transport_writes_one_eml_per_message_id_atomically(tmp_path):
    transport = transport_from_url((tmp_path / "out").as_uri())
    assert isinstance(transport, FileTransport)
    with transport.batch() as batch:
        batch.send(make_message(n=1))
        batch.send(make_message(n=1))  # a resend replaces, never duplicates
        batch.send(make_message(n=2))
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["m1@peermetals.com.eml", "m2@peermetals.com.eml"]
    assert b"X-PeerGuard-Notice: response-reminder" in (tmp_path / "out" / files[0]).read_bytes()


def test_memory_transport_records_and_fails_on_request():
    transport = transport_from_url("memory://test-mail")
    assert isinstance(transport, MemoryTransport) and transport is transport_from_url("memory://test-mail")
    transport.failures["bad@example.com"] = PermanentDeliveryError("550")
    with transport.batch() as batch:
        batch.send(make_message())
        with pytest.raises(PermanentDeliveryError):
            batch.send(make_message("bad@example.com"))
    assert len(transport.sent) == 1
