"""TLS and error wording shared by the controller's Mesos HTTP calls (scheduler API and
/master/slaves): one SSL context per CA bundle, and transport errors that say what to fix."""

from __future__ import annotations

import ssl

from mesosapi.auth import MesosAccess

CA_HINT = "give the master's CA with --mesos-ca-file / $O2_MESOS_CA_FILE"
AUTH_HINT = "--mesos-principal"


def ssl_context(access: MesosAccess) -> ssl.SSLContext:
    """Verifies https masters against `access.ca_file`, else the system's CAs; hostnames are
    checked as well (a certificate for another host is refused)."""
    return ssl.create_default_context(cafile=access.ca_file)


def transport_error(exc: BaseException, url: str) -> str:
    """One line on why a request to `url` failed; certificate failures say how to trust it.
    (aiohttp keeps the ssl error in `certificate_error`; its SSL errors subclass ssl.SSLError,
    so no aiohttp import is needed here.)"""
    cause = getattr(exc, "certificate_error", None) or exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS: the certificate of {url} is not trusted ({cause.verify_message}); {CA_HINT}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {url} failed ({exc})"
    return f"{type(exc).__name__} from {url}: {exc}"


def is_misconfiguration(reason: str) -> bool:
    """Failures no retry can fix (refused credentials, untrusted certificate): logged as
    errors so they stand out among the routine reconnects."""
    return reason.startswith("TLS: ") or AUTH_HINT in reason or "is not authorized" in reason
