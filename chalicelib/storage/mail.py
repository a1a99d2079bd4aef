"""Outgoing e-mail through SES."""

from __future__ import annotations

from chalicelib.storage.dynamo.aws import client
from chalicelib.storage.dynamo.errors import aws_errors


class SesMailer:
    def __init__(self, sender: str):
        self._sender = sender

    def send(self, *, to: str, subject: str, text: str) -> None:
        with aws_errors():
            client("ses").send_email(
                Source=self._sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                },
            )
