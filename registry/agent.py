"""portal-agent: a short-lived machine declares its own host with a lease, renews it, removes it on SIGTERM.

Runs on the machine itself (systemd, cloud-init, a Kubernetes DaemonSet), so it imports no Django:
the standard library and PyYAML (already a runtime dependency) only. It talks to the portal's
ordinary REST API, with a token like any automation:

- ``PUT /api/v1/registry/hosts/<name>/`` with ``lease_seconds`` declares the host (201/202) and,
  sent again unchanged, renews its lease (200, no deployment). It is sent every third of the
  lease, so two renewals may fail before the lease runs out.
- On SIGTERM (or SIGINT) ``DELETE /api/v1/registry/hosts/<name>/`` removes the host (graceful
  drain), retried until ``--drain-timeout``. If the agent dies instead, the portal's lease expiry
  retires the host when the lease ends.
- When the portal is down, answers 5xx, refuses the declaration or answers something that is not
  its JSON, the agent logs why and tries again after a bounded exponential back-off with jitter
  (so a fleet of machines does not come back in lockstep). A bad answer is never fatal: the
  portal, a proxy or the declaration may be fixed while the agent waits. Only a configuration it
  cannot start with (no URL, no token, an unreadable file) ends it, with exit status 2.

What is declared comes from a YAML file (``--config``), the environment (``PORTAL_URL``,
``PORTAL_API_TOKEN``, ``PORTAL_TOKEN_FILE``, ``PORTAL_AGENT_NAME``, ``PORTAL_AGENT_ADDRESS``) and
flags, a later source overriding an earlier one. The PUT replaces the host as declared: services
the agent does not declare are removed, as for any PUT that lists services.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import random
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any
from urllib.parse import quote

import yaml

logger = logging.getLogger("portal-agent")

#: The portal's own bound (registry/serializers/hosts.py); below 3 s a third of it is no interval.
MIN_LEASE_SECONDS = 3
MAX_LEASE_SECONDS = 366 * 24 * 3600
DEFAULT_LEASE_SECONDS = 300
#: What the DELETE answers when the host is gone (or was never there): the drain is done.
GONE = frozenset({200, 202, 204, 404})
#: A declaration the portal took: created (201), changed (202), renewed or unchanged (200).
DECLARED = frozenset({200, 201, 202})
CONFIG_KEYS = frozenset(
    {"url", "token_file", "name", "address", "alias", "team", "templates", "hostgroups", "services",
     "lease_seconds"}
)  # fmt: skip


class ConfigError(Exception):
    """A configuration the agent cannot start with (exit status 2)."""


class BadAnswer(Exception):
    """The portal could not be asked, or did not answer as the portal does: worth retrying."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer that is the portal's (JSON or empty)."""

    status: int
    data: Any


@dataclass
class Declaration:
    """The host this machine declares."""

    name: str
    address: str = ""
    alias: str = ""
    team: str = ""
    templates: list[str] = field(default_factory=list)
    hostgroups: list[str] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    lease_seconds: int = DEFAULT_LEASE_SECONDS

    def body(self) -> dict[str, Any]:
        """The PUT body: the same on every renewal, so the portal stores only the new lease."""
        body: dict[str, Any] = {
            "name": self.name,
            "templates": self.templates,
            "hostgroups": self.hostgroups,
            "services": self.services,
            "lease_seconds": self.lease_seconds,
        }
        for key in ("address", "alias", "team"):
            if getattr(self, key):
                body[key] = getattr(self, key)
        return body


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential back-off with jitter: ``base * 2**attempt`` up to ``cap``, then a random half to all of it."""

    base: float
    cap: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(attempt, 32))
        return self.rng.uniform(ceiling / 2, ceiling)


class Portal:
    """The portal's host API, with a token read from a file on every request (a rotated Secret is picked up)."""

    def __init__(
        self, url: str, *, token: str = "", token_file: str = "", timeout: float = 30, ca_file: str = ""
    ) -> None:
        self.base = url.rstrip("/") + "/api/v1/registry/hosts/"
        self.token = token
        self.token_file = token_file
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_file) if ca_file else None

    def current_token(self) -> str:
        if not self.token_file:
            return self.token
        try:
            with open(self.token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            if not self.token:
                raise BadAnswer(f"cannot read the token file {self.token_file}: {exc.strerror}") from None
            logger.warning("cannot read the token file %s (%s): using the last token", self.token_file, exc)
            return self.token
        if token:
            self.token = token
        return self.token

    def request(self, method: str, name: str, body: Mapping[str, Any] | None = None) -> Answer:
        """One request for the host ``name``; an answer that is not the portal's raises BadAnswer."""
        url = self.base + quote(name, safe="") + "/"
        request = urllib.request.Request(  # noqa: S310 (the URL is the operator's, http or https)
            url,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Authorization": f"Bearer {self.current_token()}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "portal-agent",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as resp:  # noqa: S310
                status, raw, kind = resp.status, resp.read(), resp.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            try:
                status, raw, kind = exc.code, exc.read(), exc.headers.get_content_type()
            except (OSError, http.client.HTTPException) as inner:
                raise BadAnswer(f"{method} {url}: HTTP {exc.code}, body unreadable ({inner})") from None
        except (OSError, http.client.HTTPException) as exc:
            # URLError (refused, DNS, TLS), timeouts, a connection cut mid-answer.
            raise BadAnswer(f"{method} {url}: {getattr(exc, 'reason', None) or exc}") from None
        if status >= 500 or status == 429:
            raise BadAnswer(f"{method} {url}: HTTP {status} {_excerpt(raw)}")
        if 300 <= status < 400:
            raise BadAnswer(f"{method} {url}: HTTP {status} redirect (is the URL the portal's, https?)")
        if not raw:
            return Answer(status, None)
        try:
            data = json.loads(raw) if kind == "application/json" else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            # A login page of a proxy, an HTML error: not the portal speaking.
            raise BadAnswer(f"{method} {url}: HTTP {status} {kind}, not the portal's JSON: {_excerpt(raw)}")
        return Answer(status, data)


def _excerpt(raw: bytes, limit: int = 200) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _refusal(data: Any) -> str:
    """The portal's reasons, field by field (``name: …; team: …``)."""
    if not isinstance(data, dict):
        return "no reason given"
    parts = []
    for key, value in data.items():
        text = "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        parts.append(text if key == "detail" else f"{key}: {text}")
    return "; ".join(parts)[:1000] or "no reason given"


class Agent:
    """Declares, renews and finally removes one host."""

    def __init__(
        self,
        portal: Portal,
        declaration: Declaration,
        *,
        backoff: Backoff,
        drain_timeout: float = 20,
        sleep: Callable[[float], bool] | None = None,
    ) -> None:
        self.portal = portal
        self.declaration = declaration
        self.backoff = backoff
        self.drain_timeout = drain_timeout
        self.stop = threading.Event()
        # Waits end early when asked to stop; tests pass their own.
        self.sleep = sleep or self.stop.wait
        self.declared = False

    @property
    def renew_every(self) -> float:
        return self.declaration.lease_seconds / 3

    def declare(self) -> bool:
        """One PUT of the host; False (logged) when it did not reach the portal or was refused."""
        name = self.declaration.name
        try:
            answer = self.portal.request("PUT", name, self.declaration.body())
        except BadAnswer as exc:
            logger.warning("portal unavailable: %s", exc)
            return False
        if (
            answer.status not in DECLARED
            or not isinstance(answer.data, dict)
            or answer.data.get("name") != name
        ):
            level = logging.ERROR if answer.status in (400, 401, 403, 404) else logging.WARNING
            logger.log(
                level, "portal refused host %s (HTTP %s): %s", name, answer.status, _refusal(answer.data)
            )
            return False
        expires = answer.data.get("expires_at")
        if answer.status == 200 and self.declared:
            logger.debug("renewed host %s until %s", name, expires)
        else:
            what = {201: "declared", 202: "declared (changed)"}.get(answer.status, "renewed")
            logger.info("%s host %s until %s (renewing every %.0fs)", what, name, expires, self.renew_every)
        self.declared = True
        return True

    def run(self) -> int:
        """Declare and renew until asked to stop, then drain; the exit status."""
        failures = 0
        while not self.stop.is_set():
            try:
                ok = self.declare()
            except Exception:  # the last guard: a bug in handling one answer must not end the agent
                logger.exception("unexpected error while declaring host %s", self.declaration.name)
                ok = False
            if ok:
                failures = 0
                self.sleep(self.renew_every)
                continue
            # Never wait longer than a renewal interval: the lease must not run out while we wait.
            delay = min(self.backoff.delay(failures), self.renew_every)
            failures += 1
            logger.warning("retrying in %.1fs (attempt %d failed)", delay, failures)
            self.sleep(delay)
        logger.info("stopping: removing host %s", self.declaration.name)
        return self.drain()

    def drain(self) -> int:
        """Remove the host, retrying until the drain timeout; 0 when it is gone."""
        name = self.declaration.name
        deadline = time.monotonic() + self.drain_timeout
        attempt = 0
        while True:
            try:
                answer = self.portal.request("DELETE", name)
                if answer.status in GONE:
                    logger.info("removed host %s (HTTP %s)", name, answer.status)
                    return 0
                logger.error("portal refused to remove host %s (HTTP %s): %s", name, answer.status,
                             _refusal(answer.data))  # fmt: skip
            except BadAnswer as exc:
                logger.warning("portal unavailable while removing host %s: %s", name, exc)
            delay = self.backoff.delay(attempt)
            attempt += 1
            if time.monotonic() + delay > deadline:
                logger.error(
                    "gave up removing host %s after %.0fs: its lease (%ds) retires it",
                    name, self.drain_timeout, self.declaration.lease_seconds,
                )  # fmt: skip
                return 1
            time.sleep(delay)  # the stop event is set: its wait would not wait


# --- configuration ---------------------------------------------------------------------------


def _strings(value: Any, key: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key} must be a list of names")
    return list(value)


def _service(value: Any) -> dict[str, Any]:
    """A service from the file (a mapping passed to the API as it is) or a flag ``DESC`` / ``DESC=t1,t2``."""
    if isinstance(value, str):
        description, _, templates = value.partition("=")
        if not description.strip():
            raise ConfigError(f"--service {value!r}: the description is empty")
        return {"description": description.strip(), "templates": _strings(
            [t.strip() for t in templates.split(",") if t.strip()], "templates")}  # fmt: skip
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("description"), str)
        or not value["description"]
    ):
        raise ConfigError("each service needs a description (services: [{description: …, templates: […]}])")
    return dict(value)


def load_file(path: str) -> dict[str, Any]:
    """The YAML configuration file (a mapping of CONFIG_KEYS)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping")
    unknown = sorted(set(data) - CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(map(str, unknown))}")
    return data


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="portal-agent", description="Declare this machine's host in the portal, with a lease."
    )
    parser.add_argument(
        "--config",
        help="YAML file with url, name, address, team, templates, hostgroups, services, lease_seconds",
    )
    parser.add_argument("--url", help="the portal's base URL (env PORTAL_URL)")
    parser.add_argument(
        "--token-file", help="file holding the API token (env PORTAL_TOKEN_FILE; else PORTAL_API_TOKEN)"
    )
    parser.add_argument("--name", help="host name (env PORTAL_AGENT_NAME; default: this machine's FQDN)")
    parser.add_argument("--address", help="host address (env PORTAL_AGENT_ADDRESS)")
    parser.add_argument("--alias")
    parser.add_argument("--team")
    parser.add_argument("--template", action="append", dest="templates", help="host template (repeat)")
    parser.add_argument("--hostgroup", action="append", dest="hostgroups", help="host group (repeat)")
    parser.add_argument(
        "--service",
        action="append",
        dest="services",
        help="DESCRIPTION or DESCRIPTION=TEMPLATE,TEMPLATE (repeat)",
    )
    parser.add_argument(
        "--lease", type=int, dest="lease_seconds", help=f"lease in seconds (default {DEFAULT_LEASE_SECONDS})"
    )
    parser.add_argument("--min-backoff", type=float, default=1.0, help="first retry delay, seconds")
    parser.add_argument("--max-backoff", type=float, default=60.0, help="longest retry delay, seconds")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument(
        "--drain-timeout", type=float, default=20.0, help="how long SIGTERM tries to remove the host"
    )
    parser.add_argument("--ca-file", help="CA bundle for the portal's certificate")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)  # fmt: skip


def build(args: argparse.Namespace, env: Mapping[str, str]) -> Agent:
    """The agent the arguments, the environment and the file describe (flags win, then env, then file)."""
    data = load_file(args.config) if args.config else {}

    def pick(flag: Any, variable: str, key: str, default: Any = None) -> Any:
        if flag is not None:
            return flag
        if variable and env.get(variable):
            return env[variable]
        return data.get(key, default)

    url = pick(args.url, "PORTAL_URL", "url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError("the portal's URL (--url, PORTAL_URL or url:) must start with http:// or https://")
    token_file = pick(args.token_file, "PORTAL_TOKEN_FILE", "token_file", "")
    token = env.get("PORTAL_API_TOKEN", "")
    if not token_file and not token:
        raise ConfigError("no token: give --token-file (PORTAL_TOKEN_FILE, token_file:) or PORTAL_API_TOKEN")
    lease = pick(args.lease_seconds, "", "lease_seconds", DEFAULT_LEASE_SECONDS)
    if (
        isinstance(lease, bool)
        or not isinstance(lease, int)
        or not MIN_LEASE_SECONDS <= lease <= MAX_LEASE_SECONDS
    ):
        raise ConfigError(
            f"lease_seconds must be a whole number from {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS}"
        )
    name = pick(args.name, "PORTAL_AGENT_NAME", "name") or socket.getfqdn()
    services = args.services if args.services is not None else data.get("services") or []
    if not isinstance(services, list):
        raise ConfigError("services must be a list")
    declaration = Declaration(
        name=str(name),
        address=str(pick(args.address, "PORTAL_AGENT_ADDRESS", "address", "")),
        alias=str(pick(args.alias, "", "alias", "")),
        team=str(pick(args.team, "", "team", "")),
        templates=_strings(pick(args.templates, "", "templates"), "templates"),
        hostgroups=_strings(pick(args.hostgroups, "", "hostgroups"), "hostgroups"),
        services=[_service(s) for s in services],
        lease_seconds=lease,
    )
    if not 0 < args.min_backoff <= args.max_backoff:
        raise ConfigError("--min-backoff must be above 0 and at most --max-backoff")
    portal = Portal(url, token=token, token_file=token_file, timeout=args.timeout, ca_file=args.ca_file or "")
    if token_file:
        try:
            portal.current_token()
        except BadAnswer as exc:
            raise ConfigError(str(exc)) from None
    return Agent(
        portal,
        declaration,
        backoff=Backoff(args.min_backoff, args.max_backoff),
        drain_timeout=args.drain_timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: run until SIGTERM/SIGINT, then remove the host."""
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s portal-agent %(levelname)s %(message)s"
    )
    try:
        agent = build(args, os.environ)
    except ConfigError as exc:
        logger.error("cannot start: %s", exc)
        return 2

    def stop(signum: int, frame: FrameType | None) -> None:
        # Only set the event: the main loop logs and drains (a handler may interrupt a log call).
        agent.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return agent.run()


if __name__ == "__main__":
    sys.exit(main())
