# Copyright: the monitoring portal authors
# GNU General Public License v2.0+ (see https://www.gnu.org/licenses/gpl-2.0.txt)
"""A small client of the monitoring portal's REST API, shared by the modules and the inventory.

Only ``ansible.module_utils.urls.open_url`` does HTTP: no third-party dependency on the
managed host. Errors become ``PortalError`` with a message a person can act on (the API's
field errors, flattened to ``field: message``).

Modules follow one pattern (``sync_object``): read the object, compare the options the
task set with what the server has, and write only what differs (PUT to create, PATCH with
``If-Match`` to change), so a second run changes nothing. Options a task leaves out are
left as they are on the server.
"""

import json
import time
from datetime import datetime, timezone
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urljoin

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import open_url

USER_AGENT = "monitoring.portal-ansible/1.0"
MAX_SERVER_WAIT = 120  # the API's limit for ?wait=

CONNECTION_SPEC = dict(
    url=dict(type="str", fallback=(env_fallback, ["PORTAL_URL"])),
    api_token=dict(type="str", no_log=True, fallback=(env_fallback, ["PORTAL_API_TOKEN"])),
    validate_certs=dict(type="bool", default=True),
    timeout=dict(type="int", default=30),
)

WAIT_SPEC = dict(
    wait=dict(type="bool", default=False),
    wait_timeout=dict(type="int", default=120),
)

# Keys of a server representation that are links, timestamps or write results.
VOLATILE = frozenset({"url", "created_at", "updated_at", "deployments", "deployment_results"})
# ... and those that are read-only: never part of a write.
READ_ONLY = VOLATILE | {"expires_at", "lease", "host", "user", "position", "id"}


class PortalError(Exception):
    """A request that failed; ``message`` says why, ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message, status=0, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body


class DeploymentFailed(PortalError):
    """The change is stored, but a node did not take it (its previous config still runs)."""


class Response:
    def __init__(self, status, data, headers):
        self.status = status
        self.data = data
        self.headers = headers

    @property
    def etag(self):
        return self.headers.get("ETag") or self.headers.get("etag")


def format_errors(body, prefix=""):
    """The API's error body as ``field: message`` lines (nested lists and objects flattened)."""
    lines = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("deployments", "deployment_results", "results"):
                continue
            if str(key).isdigit():  # an item of a list: {"services": {"1": {...}}}
                label = f"{prefix}[{key}]"
            else:
                name = key if key not in ("detail", "non_field_errors") else ""
                label = ".".join(part for part in (prefix, name) if part)
            lines.extend(format_errors(value, label))
    elif isinstance(body, list):
        if all(isinstance(item, str) for item in body):
            text = " ".join(body)
            lines.append(f"{prefix}: {text}" if prefix else text)
        else:
            for index, item in enumerate(body):
                if item:
                    lines.extend(format_errors(item, f"{prefix}[{index}]"))
    elif body not in (None, ""):
        lines.append(f"{prefix}: {body}" if prefix else str(body))
    return lines


def path(*segments):
    """An API path from natural keys: every segment URL-encoded (spaces, '/', ';', newlines)."""
    return "/".join(quote(str(s), safe="") for s in segments) + "/"


class PortalClient:
    """Bearer-token JSON requests against ``<url>/api/v1/``."""

    def __init__(self, url, token, validate_certs=True, timeout=30):
        if not url:
            raise PortalError("No portal URL: set the url option or PORTAL_URL.")
        if not token:
            raise PortalError("No API token: set the api_token option or PORTAL_API_TOKEN.")
        base = url.rstrip("/")
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        self.base = base + "/"
        self.token = token
        self.validate_certs = validate_certs
        self.timeout = timeout

    def url_for(self, api_path, query=None):
        full = api_path if api_path.startswith(("http://", "https://")) else urljoin(self.base, api_path)
        if query:
            full += ("&" if "?" in full else "?") + urlencode(query)
        return full

    def request(self, method, api_path, body=None, query=None, headers=None, ok=(), timeout=None):
        """Send one request; statuses below 400 and those in ``ok`` are answers, others PortalError."""
        url = self.url_for(api_path, query)
        all_headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body)
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        try:
            resp = open_url(
                url,
                data=data,
                headers=all_headers,
                method=method,
                validate_certs=self.validate_certs,
                timeout=timeout or self.timeout,
                http_agent=USER_AGENT,
                follow_redirects="none",
            )
            status, raw, resp_headers = resp.getcode(), resp.read(), dict(resp.headers)
        except HTTPError as exc:
            status, resp_headers = exc.code, dict(exc.headers or {})
            try:
                raw = exc.read()
            except Exception:  # the body of an error may be gone already
                raw = b""
        except URLError as exc:
            raise PortalError(f"{method} {url}: cannot reach the portal: {exc.reason}") from None
        except OSError as exc:  # timeouts, resets
            raise PortalError(f"{method} {url}: {exc}") from None
        text = to_text(raw or b"", errors="surrogate_or_replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        if status >= 400 and status not in ok:
            raise PortalError(self.describe(method, url, status, parsed), status=status, body=parsed)
        return Response(status, parsed, resp_headers)

    @staticmethod
    def describe(method, url, status, body):
        reasons = {
            400: "the portal refused the input",
            401: "the API token was not accepted (wrong, revoked or expired)",
            403: "not allowed",
            404: "not found",
            409: "conflict",
            412: "the object changed since it was read (ETag); run again",
        }
        details = format_errors(body) if isinstance(body, (dict, list)) else ([body] if body else [])
        head = f"{method} {url} answered {status} ({reasons.get(status, 'error')})"
        return head + (": " + "; ".join(str(d) for d in details) if details else "")

    def get(self, api_path, query=None):
        """The object at a path, or None when it does not exist."""
        resp = self.request("GET", api_path, query=query, ok=(404,))
        return None if resp.status == 404 else resp

    def list(self, api_path, query=None):
        """Every item of a paginated list (follows ``next``)."""
        items = []
        resp = self.request("GET", api_path, query=dict(query or {}, limit=500))
        while True:
            data = resp.data
            if isinstance(data, list):
                return items + data
            items.extend(data.get("results", []))
            if not data.get("next"):
                return items
            resp = self.request("GET", data["next"])

    def write(self, method, api_path, body=None, etag=None, wait=False, wait_timeout=120):
        """PUT/PATCH/POST/DELETE a registry object; with ``wait``, until its deployments are final.

        Returns ``(response, deployments)``; raises ``DeploymentFailed`` when a node refused the
        change and ``PortalError`` when ``wait_timeout`` passed before the deployments finished.
        """
        deadline = time.monotonic() + wait_timeout
        query = {"wait": max(1, min(wait_timeout, MAX_SERVER_WAIT))} if wait else None
        headers = {"If-Match": etag} if etag else None
        resp = self.request(
            method,
            api_path,
            body=body,
            query=query,
            headers=headers,
            ok=(409,),
            timeout=self.timeout + (query["wait"] if query else 0),
        )
        data = resp.data if isinstance(resp.data, dict) else {}
        if resp.status == 409 and not data.get("deployment_results"):
            raise PortalError(
                self.describe(method, self.url_for(api_path), 409, resp.data), status=409, body=resp.data
            )
        deployments = list(data.get("deployment_results") or [])
        if wait and deployments:
            deployments = self.wait_for_deployments(deployments, deadline)
        return resp, deployments

    def wait_for_deployments(self, deployments, deadline):
        """Re-read each deployment (server-side ``?wait=``) until final; fail if one failed."""
        final = ("confirmed", "failed", "skipped")
        done = []
        for deployment in deployments:
            while deployment.get("state") not in final:
                remaining = int(deadline - time.monotonic())
                if remaining <= 0:
                    raise PortalError(
                        f"deployment {deployment.get('id')} to {deployment.get('node')} is still "
                        f"{deployment.get('state')} after the wait_timeout; see {deployment.get('url')}"
                    )
                resp = self.request(
                    "GET",
                    deployment["url"],
                    query={"wait": min(remaining, MAX_SERVER_WAIT)},
                    timeout=self.timeout + min(remaining, MAX_SERVER_WAIT),
                    ok=(429,),
                )
                if resp.status == 429:
                    # The portal bounds how many requests wait at once (a wait holds a web
                    # worker): parallel forks sharing a token take turns. Pause as it asks.
                    time.sleep(min(max(retry_after(resp.headers), 1), max(remaining, 1)))
                    continue
                deployment = resp.data
            done.append(deployment)
        failed = [d for d in done if d.get("state") == "failed"]
        if failed:
            raise DeploymentFailed(deployment_failure(failed), body={"deployment_results": done})
        return done


def retry_after(headers):
    """Seconds from a ``Retry-After`` header (5 when it is missing or not a number)."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return int(value)
            except ValueError:
                return 5
    return 5


def verifier_lines(output):
    """What a person needs of a verifier's output: its error lines, else its last 25 lines.

    Naemon and Nagios print their errors among dozens of ``Checked ...`` lines and end with
    boilerplate, so the tail alone would hide the reason.
    """
    lines = [line.rstrip() for line in (output or "").strip().splitlines()]
    errors = [line for line in lines if line.strip().lower().startswith("error")]
    return "\n".join(errors[:25] if errors else lines[-25:])


def deployment_failure(failed):
    parts = []
    for d in failed:
        shown = verifier_lines(d.get("verify_output") or d.get("reload_output"))
        parts.append(
            f"The change is stored, but deployment {d.get('id')} to node {d.get('node')} failed: "
            f"{d.get('error') or 'see the deployment'}. The node still runs its previous config."
            + (f"\nVerifier output:\n{shown}" if shown else "")
            + (f"\nFull output: {d['url']}" if d.get("url") else "")
        )
    return "\n".join(parts)


def client_from_module(module):
    p = module.params
    try:
        return PortalClient(p["url"], p["api_token"], p["validate_certs"], p["timeout"])
    except PortalError as exc:
        module.fail_json(msg=exc.message)


def fail(module, exc, **extra):
    """Fail a task with the API's message (and the body, for the curious)."""
    result = dict(extra)
    if exc.status:
        result["status"] = exc.status
    if exc.body is not None:
        result["response"] = exc.body
    module.fail_json(msg=exc.message, **result)


# --- comparing desired and current state ---------------------------------------------------


def upper_keys(value):
    return {str(k).upper(): v for k, v in value.items()} if isinstance(value, dict) else value


def options_text(value):
    return ",".join(part.strip() for part in value.split(",")) if value else value


def clean_ref(value):
    """A reference by name: '' means none."""
    return value or None


# How each option compares: unordered name lists, ordered lists, custom variables, ...
NORMALIZE = {
    "set": lambda v: sorted(v or []),
    "list": lambda v: list(v or []),
    "vars": lambda v: {k: str(x) for k, x in upper_keys(v or {}).items()},
    "ref": clean_ref,
    "options": options_text,
    "str": lambda v: "" if v is None else v,
    "scalar": lambda v: v,
}


def desired_from(params, fields):
    """The options a task set, in the API's terms (``None``: not set, left alone)."""
    wanted = {}
    for key, kind in fields.items():
        value = params.get(key)
        if value is None:
            continue
        if kind == "vars":
            value = upper_keys(value)
        elif kind == "ref":
            value = clean_ref(value)
        elif kind == "options":
            value = options_text(value)
        wanted[key] = value
    return wanted


def differs(current, wanted, fields):
    """Names of the options whose wanted value is not what the server has."""
    changed = []
    for key, value in wanted.items():
        normalize = NORMALIZE[fields.get(key, "scalar")]
        if normalize(value) != normalize(current.get(key)):
            changed.append(key)
    return changed


def state_of(data):
    """A representation without links, timestamps and write results (for diffs and returns)."""
    if isinstance(data, list):
        return [state_of(item) for item in data]
    if not isinstance(data, dict):
        return data
    return {k: state_of(v) for k, v in data.items() if k not in VOLATILE}


def merged_items(current_items, wanted_items, key, fields):
    """A nested list (a host's services) as it should be; also whether it differs.

    Each wanted item keeps what the server has for the options it leaves out; items the
    server has and the list does not are dropped (the list replaces).
    """
    by_key = {item[key]: item for item in current_items or []}
    result = []
    changed = sorted(by_key) != sorted(item[key] for item in wanted_items)
    for item in wanted_items:
        wanted = desired_from(item, fields)
        wanted[key] = item[key]
        current = by_key.get(item[key])
        if current is None:
            result.append(wanted)
            changed = True
            continue
        body = {k: v for k, v in current.items() if k not in READ_ONLY}
        if differs(current, wanted, fields):
            changed = True
        body.update(wanted)
        result.append(body)
    return result, changed


def remaining_lease(expires_at):
    """Seconds until an ISO 8601 expiry (None: no lease)."""
    if not expires_at:
        return None
    text = expires_at.replace("Z", "+00:00")
    expiry = datetime.fromisoformat(text)
    return (expiry - datetime.now(timezone.utc)).total_seconds()  # noqa: UP017 (managed hosts may run Python < 3.11)


def sync_object(module, client, api_path, fields, wanted, extra_body=None, nested=None):
    """Create, change or delete one registry object so that it has ``wanted``; exit the module.

    ``fields`` maps option names to how they compare. ``nested`` is ``(option, key, fields)``
    for a list of sub-objects that replaces the server's (a host's services). ``extra_body``
    is a function of the current representation (None: absent) that returns what to write
    beyond the compared options (a lease renewal the caller decides on).
    """
    p = module.params
    try:
        current_resp = client.get(api_path)
        current = current_resp.data if current_resp else None
        result = dict(changed=False, deployments=[])
        if p["state"] == "absent":
            if current is None:
                module.exit_json(**result, object=None)
            result.update(changed=True, diff=dict(before=state_of(current), after={}))
            if not module.check_mode:
                _, result["deployments"] = client.write(
                    "DELETE", api_path, wait=p["wait"], wait_timeout=p["wait_timeout"]
                )
            module.exit_json(**result, object=None)

        extra = extra_body(current) if extra_body else {}
        body = dict(wanted)
        changed_keys = []
        if nested and p.get(nested[0]) is not None:
            option, key, nested_fields = nested
            items, nested_changed = merged_items((current or {}).get(option), p[option], key, nested_fields)
            body[option] = items
            if nested_changed:
                changed_keys.append(option)
        if current is None:
            body.update(extra)
            before, after = {}, dict(body)
            method, etag = "PUT", None
        else:
            changed_keys += differs(current, wanted, fields)
            before = state_of(current)
            after = dict(before)
            after.update({k: body[k] for k in changed_keys})
            body = {k: body[k] for k in changed_keys}
            if extra:
                body.update(extra)
                after.update(extra)
            method, etag = "PATCH", current_resp.etag
        if current is not None and not body:
            module.exit_json(**result, object=state_of(current))
        result.update(changed=True, diff=dict(before=before, after=after), changed_options=sorted(body))
        if module.check_mode:
            module.exit_json(**result, object=after)
        resp, deployments = client.write(
            method, api_path, body=body, etag=etag, wait=p["wait"], wait_timeout=p["wait_timeout"]
        )
        result["deployments"] = deployments
        module.exit_json(**result, object=state_of(resp.data))
    except PortalError as exc:
        fail(module, exc)


def find_relation(client, collection, filters, keys):
    """The one object of a collection whose natural ``keys`` match (None: none), with its ETag.

    Dependencies and escalations have no name: the portal addresses them by id. The list,
    narrowed by the API's ``filters``, is matched on every key; more than one match is an
    error rather than a guess.
    """
    found = [
        item
        for item in client.list(collection, filters)
        if all(str(item.get(k)) == str(v) for k, v in keys.items())
    ]
    if len(found) > 1:
        described = ", ".join(f"{k}={v}" for k, v in keys.items())
        urls = ", ".join(item.get("url", "") for item in found)
        raise PortalError(f"{len(found)} objects match {described} ({urls}): remove all but one")
    return client.get(found[0]["url"]) if found else None


def sync_relation(module, client, collection, filters, keys, fields, wanted):
    """Like ``sync_object`` for an object addressed by id: found by its natural keys, created by POST."""
    p = module.params
    try:
        current_resp = find_relation(client, collection, filters, keys)
        current = current_resp.data if current_resp else None
        result = dict(changed=False, deployments=[])
        wait = dict(wait=p["wait"], wait_timeout=p["wait_timeout"])
        if p["state"] == "absent":
            if current is not None:
                result.update(changed=True, diff=dict(before=state_of(current), after={}))
                if not module.check_mode:
                    _, result["deployments"] = client.write("DELETE", current["url"], **wait)
            module.exit_json(**result, object=None)
        if current is None:
            body = dict(wanted, **keys)
            before, after, method, target, etag = {}, dict(body), "POST", collection, None
        else:
            body = {k: wanted[k] for k in differs(current, wanted, fields)}
            if not body:
                module.exit_json(**result, object=state_of(current))
            before = state_of(current)
            after = dict(before, **body)
            method, target, etag = "PATCH", current["url"], current_resp.etag
        result.update(changed=True, diff=dict(before=before, after=after), changed_options=sorted(body))
        if module.check_mode:
            module.exit_json(**result, object=after)
        resp, result["deployments"] = client.write(method, target, body=body, etag=etag, **wait)
        module.exit_json(**result, object=state_of(resp.data))
    except PortalError as exc:
        fail(module, exc)
