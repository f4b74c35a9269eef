"""A real SMTP server for tests (aiosmtpd), collecting every message it receives."""

from __future__ import annotations

import email
import email.policy
import re
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.processes import free_port


@dataclass
class Inbox:
    messages: list[EmailMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, subject_part: str, timeout: float = 15.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in self.messages:
                    if message["To"] == to and subject_part in str(message["Subject"]):
                        return message
            time.sleep(0.05)
        raise AssertionError(
            f"no mail to {to} about {subject_part!r}; got {[m['Subject'] for m in self.messages]}"
        )

    @staticmethod
    def link(message: EmailMessage) -> str:
        body = message.get_content()
        match = re.search(r"https?://\S+", body)
        assert match, body
        return match.group(0)


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def env(self) -> dict[str, str]:
        return {
            "XEROTIER_MAIL_BACKEND": "smtp",
            "XEROTIER_SMTP_HOST": "127.0.0.1",
            "XEROTIER_SMTP_PORT": str(self.port),
            "XEROTIER_MAIL_FROM": "Xerotier <no-reply@example.test>",
        }
