"""Outgoing e-mail through SES.

A mail with attachments (an invoice's PDF) is a MIME message sent with
SendRawEmail; a plain one uses SendEmail. On the local stack
(``CRM_OUTBOX_DIR``, set by infra/local/run.py to ``$CRM_DATA_DIR/outbox``)
every message is also written there as an .eml file with its attachments,
so a user can open what the CRM sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors


def message(sender: str, to: str, subject: str, text: str, attachments: Sequence[Any] = ()) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(text)
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return mail


class SesMailer:
    def __init__(self, sender: str):
        self._sender = sender

    def send(self, *, to: str, subject: str, text: str, attachments: Sequence[Any] = ()) -> None:
        mail = message(self._sender, to, subject, text, attachments)
        with aws_errors():
            if attachments:
                client("ses").send_raw_email(
                    Source=self._sender, Destinations=[to], RawMessage={"Data": mail.as_bytes()}
                )
            else:
                client("ses").send_email(
                    Source=self._sender,
                    Destination={"ToAddresses": [to]},
                    Message={
                        "Subject": {"Data": subject, "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                    },
                )
        _to_outbox(mail)


def _to_outbox(mail: EmailMessage) -> None:
    from chalicelib.config import get_settings

    folder = get_settings().outbox_dir
    if not folder:
        return
    import os
    import tempfile
    from pathlib import Path

    from chalicelib.domain.shared.clock import new_id

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed: a reader never sees half a message.
    handle, temporary = tempfile.mkstemp(dir=target, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        out.write(mail.as_bytes())
    os.replace(temporary, target / f"{new_id()}.eml")
