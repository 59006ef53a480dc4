"""E-mail over SMTP (STARTTLS and login when configured), sent from a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar

from notification.channels import DeliveryFailed, DeliveryReport
from notification.providers.base import ProbeResult, ProviderAdapter, ProviderMessage, RecipientAddress, require
from notification.providers.secrets import SecretUnavailable, read_secret


class SmtpAdapter(ProviderAdapter):
    """One e-mail per notification; the Message-ID is derived from the send key."""

    kind = "smtp"
    # SMTP servers do not drop repeats: an unanswered send is not resent (at most once on this channel).
    dedupes = False
    success_status = "sent"
    required_settings: ClassVar[tuple[str, ...]] = ("host", "sender")

    def target(self, recipient: RecipientAddress) -> str:
        return require(recipient.email, "e-mail address")

    def _connect(self) -> smtplib.SMTP:
        timeout = float(self.setting("timeout_seconds", "10"))
        try:
            client = smtplib.SMTP(self.setting("host"), int(self.setting("port", "25")), timeout=timeout)
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryFailed(f"SMTP server unreachable: {type(err).__name__}", permanent=False, channel_down=True) from None
        try:
            client.ehlo()
            if self.setting("starttls", "false").lower() == "true":
                client.starttls()
                client.ehlo()
            try:
                username = read_secret(self.config.secret_refs, "username")
            except SecretUnavailable:
                username = ""
            if username:
                client.login(username, self.secret("password"))
        except smtplib.SMTPAuthenticationError:
            client.close()
            raise DeliveryFailed("SMTP login refused", permanent=True, channel_down=True) from None
        except (OSError, smtplib.SMTPException) as err:
            client.close()
            raise DeliveryFailed(f"SMTP session failed: {type(err).__name__}", permanent=False, channel_down=True) from None
        return client

    def _send_blocking(self, message: ProviderMessage) -> DeliveryReport:
        email = EmailMessage()
        email["From"] = self.setting("sender")
        email["To"] = self.target(message.recipient)
        email["Subject"] = message.title
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = f"<{message.send_key.replace(':', '.')}@crm.notification>"
        email.set_content(message.body)
        client = self._connect()
        try:
            refused = client.send_message(email)
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryFailed(f"SMTP refused the recipient: {sorted(err.recipients)}", permanent=True) from None
        except smtplib.SMTPResponseException as err:
            reason = f"SMTP {err.smtp_code} {err.smtp_error.decode(errors='replace')[:120] if isinstance(err.smtp_error, bytes) else err.smtp_error}"
            raise DeliveryFailed(reason, permanent=err.smtp_code >= 500) from None
        except (OSError, smtplib.SMTPException) as err:
            # The connection broke during the transaction: the server may have queued the mail.
            raise DeliveryFailed(f"SMTP answer lost: {type(err).__name__}", permanent=False, uncertain=True) from None
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        if refused:
            raise DeliveryFailed(f"SMTP refused {sorted(refused)}", permanent=True)
        return DeliveryReport(status="sent", detail="accepted by the SMTP server")

    async def send(self, message: ProviderMessage) -> DeliveryReport:
        return await asyncio.to_thread(self._send_blocking, message)

    def _probe_blocking(self) -> ProbeResult:
        try:
            client = self._connect()
        except DeliveryFailed as err:
            return ProbeResult(up=False, detail=err.reason)
        try:
            code, _ = client.noop()
        except (OSError, smtplib.SMTPException) as err:
            return ProbeResult(up=False, detail=f"NOOP failed: {type(err).__name__}")
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        return ProbeResult(up=code == 250, detail=f"NOOP {code}")

    async def probe(self) -> ProbeResult:
        return await asyncio.to_thread(self._probe_blocking)
