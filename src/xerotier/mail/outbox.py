"""Mail leaves through a queue so request handlers never wait on SMTP.

That keeps pages fast, and it keeps the answer time of "register" or "forgot password" the same
whether or not an email was sent — no timing side channel on which addresses have accounts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str


class Transport(Protocol):
    async def deliver(self, mail: Mail) -> None: ...


class ConsoleTransport:
    """Development: print mail to the log (links included) and keep the last ones in memory."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []

    async def deliver(self, mail: Mail) -> None:
        self.sent = [*self.sent[-99:], mail]
        log.info("mail to %s: %s\n%s", mail.to, mail.subject, mail.text)


class SmtpTransport:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None,
        password: str | None,
        starttls: bool,
        use_tls: bool,
        timeout: float = 30.0,
    ) -> None:
        self._host, self._port, self._sender = host, port, sender
        self._username, self._password = username, password
        self._starttls, self._use_tls, self._timeout = starttls, use_tls, timeout

    async def deliver(self, mail: Mail) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message.set_content(mail.text)
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            use_tls=self._use_tls,
            timeout=self._timeout,
        )


class Outbox:
    def __init__(self, transport: Transport, *, retries: int = 3) -> None:
        self.transport = transport
        self._queue: asyncio.Queue[Mail] | None = None
        self._task: asyncio.Task[None] | None = None
        self._retries = retries

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="mail-outbox")

    def send(self, mail: Mail) -> None:
        if self._queue is None:
            raise RuntimeError("outbox not started")
        self._queue.put_nowait(mail)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            mail = await self._queue.get()
            try:
                await self._deliver(mail)
            finally:
                self._queue.task_done()

    async def _deliver(self, mail: Mail) -> None:
        for attempt in range(self._retries):
            try:
                await self.transport.deliver(mail)
                return
            except Exception as exc:  # the next attempt, or the log, is all we can do
                log.warning("mail to %s failed (attempt %d): %s", mail.to, attempt + 1, exc)
                await asyncio.sleep(0.5 * (attempt + 1))
        log.error("mail to %s dropped after %d attempts", mail.to, self._retries)

    async def close(self, grace: float = 10.0) -> None:
        if self._queue is not None and self._task is not None:
            try:
                await asyncio.wait_for(self._queue.join(), grace)
            except TimeoutError:
                log.error("mail outbox closed with %d unsent messages", self._queue.qsize())
            self._task.cancel()
