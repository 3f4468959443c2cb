import pytest

from tests.fakes.smtp import SmtpSink


@pytest.fixture
def smtp_sink():
    """A real SMTP server (aiosmtpd) on 127.0.0.1; see tests.fakes.smtp.SmtpSink."""
    sink = SmtpSink().start()
    try:
        yield sink
    finally:
        sink.stop()
