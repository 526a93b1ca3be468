"""Mail out through the configured server (HUB_SMTP_*): alerts and the leadership report use this one sender."""

from __future__ import annotations

import mimetypes
import smtplib
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from hub.errors import ConfigError, HubError
from hub.settings import Settings, get_settings

SMTP_TIMEOUT_S = 30


class MailError(HubError):
    """The mail server refused or could not be reached; the message names the server and the fix."""

    def __init__(self, message: str):
        super().__init__(message, kind="retriable")


def compose(
    sender: str, recipients: list[str], subject: str, body: str, attachments: Iterable[Path] = ()
) -> EmailMessage:
    """A UTF-8 plain-text mail with the files attached under their own names."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(recipients), subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(body, charset="utf-8")
    for path in attachments:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = kind.split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def send(
    recipients: list[str],
    subject: str,
    body: str,
    attachments: Iterable[Path] = (),
    settings: Settings | None = None,
) -> EmailMessage:
    """Send one mail to `recipients` through HUB_SMTP_HOST:HUB_SMTP_PORT; raises MailError if it is not accepted."""
    settings = settings or get_settings()
    if not settings.smtp_host:
        raise ConfigError("no mail server: set HUB_SMTP_HOST (and HUB_SMTP_PORT, HUB_SMTP_FROM)")
    if not recipients:
        raise ConfigError("no recipients: give addresses (HUB_ALERT_TO / HUB_REPORT_TO, comma-separated)")
    message = compose(settings.smtp_from, recipients, subject, body, attachments)
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as client:
            if settings.smtp_starttls:
                client.starttls()
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                client.login(settings.smtp_user, password)
            refused = client.send_message(message, to_addrs=recipients)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"mail server {server} did not take the mail '{subject}': {exc}; check HUB_SMTP_*") from exc
    if refused:
        raise MailError(f"mail server {server} refused {', '.join(sorted(refused))} for '{subject}'")
    return message
