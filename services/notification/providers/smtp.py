"""E-mail over SMTP, encrypted by default (STARTTLS or implicit TLS), to the guard's pinned address, from a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, ClassVar

from crm_common.egress import EgressRefused
from crm_common.errors import FieldViolation
from notification.channels import DeliveryFailed, DeliveryReport
from notification.providers.base import (
    ChannelConfig,
    ProbeResult,
    ProviderAdapter,
    ProviderMessage,
    RecipientAddress,
    require,
)

# "none" is an explicit choice of the channel (a relay inside an allowed network) and never carries a login.
DEFAULT_PORTS = {"starttls": 587, "implicit": 465, "none": 25}
LOGIN_SECRETS = ("username", "password")


def tls_mode(config: ChannelConfig) -> str:
    return str(config.settings.get("tls", "") or "starttls").strip().lower()


def smtp_problems(config: ChannelConfig) -> list[FieldViolation]:
    """What is wrong with a mail channel's TLS and port settings."""
    problems = []
    mode = tls_mode(config)
    if mode not in DEFAULT_PORTS:
        problems.append(FieldViolation("settings.tls", f"one of {sorted(DEFAULT_PORTS)} (default starttls)"))
    elif mode == "none" and any(key in config.secret_refs for key in LOGIN_SECRETS):
        problems.append(FieldViolation("settings.tls", "'none' would send the login in clear: use starttls or implicit"))
    port = str(config.settings.get("port", "")).strip()
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        problems.append(FieldViolation("settings.port", "a TCP port, 1-65535"))
    return problems


class _PinnedSMTP(smtplib.SMTP):
    """smtplib's client, connecting to the address the guard pinned while TLS still checks the host name."""

    def __init__(self, host: str, port: int, *, address: str, **kwargs: Any) -> None:
        self._address = address
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self._address, port), timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    """Implicit TLS (port 465) to the pinned address, with the host name as SNI and for certificate checks."""

    def __init__(self, host: str, port: int, *, address: str, **kwargs: Any) -> None:
        self._address = address
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((self._address, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._host)


class SmtpAdapter(ProviderAdapter):
    """One e-mail per notification; the Message-ID is derived from the send key."""

    kind = "smtp"
    # SMTP servers do not drop repeats: an unanswered send is not resent (at most once on this channel).
    dedupes = False
    success_status = "sent"
    required_settings: ClassVar[tuple[str, ...]] = ("host", "sender")
    url_settings: ClassVar[tuple[str, ...]] = ()
    host_setting: ClassVar[str] = "host"

    def target(self, recipient: RecipientAddress) -> str:
        return require(recipient.email, "e-mail address")

    def _port(self) -> int:
        return int(self.setting("port", str(DEFAULT_PORTS.get(tls_mode(self.config), 587))))

    def _tls_context(self) -> ssl.SSLContext:
        # A private CA (an internal relay) comes as a referenced secret, so it follows the reference rules too.
        pem = self.secret("ca_bundle") if "ca_bundle" in self.config.secret_refs else None
        return ssl.create_default_context(cadata=pem)

    async def _address(self) -> str:
        """The SMTP server's address, checked and pinned by the egress guard."""
        try:
            async with asyncio.timeout(float(self.setting("timeout_seconds", "10"))):
                return (await self.guard.pin(self.setting("host"), self._port()))[0]
        except EgressRefused as err:
            raise DeliveryFailed(f"destination refused: {err}", permanent=True, channel_down=True) from None
        except (OSError, TimeoutError) as err:
            raise DeliveryFailed(f"SMTP server unreachable: {type(err).__name__}", permanent=False, channel_down=True) from None

    def _connect(self, address: str) -> smtplib.SMTP:
        timeout = float(self.setting("timeout_seconds", "10"))
        mode = tls_mode(self.config)
        context = self._tls_context() if mode != "none" else None
        try:
            if mode == "implicit":
                client: smtplib.SMTP = _PinnedSMTPSSL(
                    self.setting("host"), self._port(), address=address, timeout=timeout, context=context
                )
            else:
                client = _PinnedSMTP(self.setting("host"), self._port(), address=address, timeout=timeout)
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryFailed(f"SMTP server unreachable: {type(err).__name__}", permanent=False, channel_down=True) from None
        try:
            client.ehlo()
            if mode == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if "username" in self.config.secret_refs and mode != "none":
                client.login(self.secret("username"), self.secret("password"))
        except smtplib.SMTPNotSupportedError:
            client.close()
            raise DeliveryFailed("SMTP server does not offer STARTTLS", permanent=True, channel_down=True) from None
        except smtplib.SMTPAuthenticationError:
            client.close()
            raise DeliveryFailed("SMTP login refused", permanent=True, channel_down=True) from None
        except (OSError, smtplib.SMTPException) as err:
            client.close()
            raise DeliveryFailed(f"SMTP session failed: {type(err).__name__}", permanent=False, channel_down=True) from None
        except DeliveryFailed:
            client.close()
            raise
        return client

    def _send_blocking(self, message: ProviderMessage, address: str) -> DeliveryReport:
        email = EmailMessage()
        email["From"] = self.setting("sender")
        email["To"] = self.target(message.recipient)
        email["Subject"] = message.title
        email["Date"] = formatdate(localtime=False)
        email["Message-ID"] = f"<{message.send_key.replace(':', '.')}@crm.notification>"
        email.set_content(message.body)
        client = self._connect(address)
        try:
            refused = client.send_message(email)
        except smtplib.SMTPRecipientsRefused as err:
            raise DeliveryFailed(f"SMTP refused the recipient: {sorted(err.recipients)}", permanent=True) from None
        except smtplib.SMTPResponseException as err:
            said = err.smtp_error.decode(errors="replace") if isinstance(err.smtp_error, bytes) else err.smtp_error
            reason = f"SMTP {err.smtp_code} {self.quote(said)}"
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
        return await asyncio.to_thread(self._send_blocking, message, await self._address())

    def _probe_blocking(self, address: str) -> ProbeResult:
        try:
            client = self._connect(address)
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
        try:
            address = await self._address()
        except DeliveryFailed as err:
            return ProbeResult(up=False, detail=err.reason)
        return await asyncio.to_thread(self._probe_blocking, address)
