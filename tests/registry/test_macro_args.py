"""A team member's value reaches the plugin as exactly the argument the command's author meant.

Naemon pastes macro values raw into a command line, then either runs it with ``/bin/sh -c``
(when ``runcmd_cmd2strv`` finds shell syntax in it) or splits it into words itself. Both are
reproduced here from naemon-core's source (``lib/runcmd.c``, ``src/naemon/macros.c``): the
rendered config is read back, its macros substituted the way Naemon does, and the line run
through the real ``/bin/sh`` or Naemon's own splitting, with a plugin that prints its argv.
The renderer single-quotes every macro the line leaves unquoted (``validation.quote_macros``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry import render, validation
from registry.models import Command, Host, NaemonNode, Service
from registry.render import State
from registry.validation import NaemonValueError
from tests.doubles import DeployRecorder
from tests.scenarios import Site
from tests.services.nagios import parse_objects

NOTIFY = NaemonNode(notify_filter_path="/usr/bin/notify-filter").notify_paths()
ADDRESS = "192.0.2.10"
# Values a team member may write (the API accepts them) that the shell or Naemon would read as
# more than one argument, a comment, a glob, a tilde or brace expansion, or a subshell.
HOSTILE = [
    "80 -H 169.254.169.254 --extra-opts=section@/etc/shadow",
    "80 #",
    "80 # -w 1",
    "80 *",
    "*",
    "?",
    "[a-z]*",
    "/et?/pass*",
    "~",
    "~root/x",
    "(x)",
    "{a,b}",
    "a  b   c",
    "-w 80% -c 90%",
    "x=1",
    "#",
    "a}{b",
]


# --- Naemon, as its source does it ------------------------------------------------------------


def naemon_args(check_command: str) -> list[str]:
    """``check_command`` directive -> $ARGn$ values (``get_raw_command_line_r``: '!' splits, '\\!' escapes)."""
    parts: list[str] = []
    current = ""
    text = check_command.split("!", 1)[1] if "!" in check_command else ""
    if "!" not in check_command:
        return []
    i = 0
    while i <= len(text):
        if i == len(text) or text[i] == "!":
            parts.append(current)
            current = ""
        elif text[i] == "\\" and i + 1 < len(text) and text[i + 1] == "!":
            current += "!"
            i += 1
        else:
            current += text[i]
        i += 1
    return parts


def naemon_substitute(line: str, macros: dict[str, str]) -> str:
    """``process_macros_r``: '$' paired left to right, '$$' is '$', an unknown macro stays as written."""
    out = []
    parts = line.split("$")
    out.append(parts[0])
    in_macro = True
    for index, part in enumerate(parts[1:], start=1):
        last = index == len(parts) - 1
        if not in_macro:
            out.append(part)
            in_macro = True
            continue
        if part == "" and not last:
            out.append("$")
        elif part in macros:
            out.append(macros[part])
        else:
            out.append("$" + part + ("" if last else "$"))
        in_macro = False
    return "".join(out)


HAS_SHELL_SYNTAX = 1


def runcmd_cmd2strv(cmd: str) -> tuple[list[str], int]:
    """naemon-core ``runcmd_cmd2strv`` (argument part): the words, and non-zero if a shell is needed."""
    argv: list[str] = []
    current: list[str] | None = None
    squote = dquote = bslash = False
    seen_space = False
    flags = 0
    i = 0
    while i < len(cmd):
        c = cmd[i]
        in_quotes = squote or dquote
        if c in " \t\r\n":
            if current is not None and not in_quotes:
                argv.append("".join(current))
                current = None
                i += 1
                continue
            seen_space = True
            if not in_quotes:
                i += 1
                continue
        elif c == "\\":
            if not (squote or bslash):
                if dquote:
                    if i + 1 < len(cmd) and cmd[i + 1] in '"\\$`':
                        bslash = True
                        i += 1
                        continue
                else:
                    i += 1  # unquoted: the backslash escapes the next character
                    c = cmd[i] if i < len(cmd) else ""
        elif c == "'" and not dquote:
            if squote:
                squote = False
                i += 1
                continue
            squote = True
            current = [] if current is None else current
            i += 1
            continue
        elif c == '"' and not squote:
            if dquote:
                dquote = False
                i += 1
                continue
            dquote = True
            current = [] if current is None else current
            i += 1
            continue
        elif (
            (c in "|&;()*?" and not in_quotes)
            or (c == "~" and not squote)
            or (c in "`$" and not squote and not bslash)
            or (c == "=" and not in_quotes and not seen_space)
        ):
            flags |= HAS_SHELL_SYNTAX  # a pipe, a list, a subshell, a glob, a tilde, a variable...
        bslash = False
        if current is None:
            current = []
        current.append(c)
        i += 1
    if current is not None:
        argv.append("".join(current))
    if squote or dquote:
        flags |= HAS_SHELL_SYNTAX
    return argv, flags


def naemon_run(line: str, *, cwd: Path, force: str = "") -> list[str]:
    """Run a substituted command line as Naemon's worker does (or force one path); the plugin's argv."""
    argv, flags = runcmd_cmd2strv(line)
    path = force or ("shell" if flags else "direct")
    if path == "shell":
        command = ["/bin/sh", "-c", line]
    else:
        assert not flags, f"Naemon would use the shell for {line!r}"
        command = argv
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, (command, result.stderr)
    return list(json.loads(result.stdout))


# --- a node: a plugin that prints its argv, and a directory full of file names to glob -----------


class Node:
    def __init__(self) -> None:
        # Not tmp_path: a path without characters the checks refuse. Commands run in it, so a
        # glob that the shell expanded would show these file names.
        self.root = Path(tempfile.mkdtemp(prefix="portal-argv-"))
        self.plugin = self.root / "print_argv"
        self.plugin.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
        self.plugin.chmod(0o755)
        for name in ("80 a", "80b", "x", "a", "b"):
            (self.root / name).write_text("")

    def render(
        self, command_line: str, args: list[str], *, free_form: list[int] | None = None, **host: Any
    ) -> tuple[str, str]:
        """The rendered command line and the host's check_command directive."""
        definition: dict[str, Any] = {
            "name": "check-argv",
            "command_line": command_line,
            "channel": "",
            "free_form_args": free_form,
        }
        state = State(
            commands=[definition],
            hosts=[
                {
                    "name": "web01",
                    "address": ADDRESS,
                    "check_command": "check-argv",
                    "check_command_args": args,
                    "max_check_attempts": 1,
                    **host,
                }
            ],
        )
        files = render.render_state(state, NOTIFY).files
        objects = [
            dict(d)
            for text in files.values()
            for kind, d in parse_objects(text)
            if kind in ("command", "host")
        ]
        command = next(o for o in objects if o.get("command_name") == "check-argv")
        host_row = next(o for o in objects if o.get("host_name") == "web01")
        return command["command_line"], host_row["check_command"]

    def check(
        self,
        command_line: str,
        args: list[str],
        *,
        force: str = "",
        free_form: list[int] | None = None,
        **host: Any,
    ) -> list[str]:
        """What the plugin receives when Naemon runs the host's check, from the rendered config."""
        line, check_command = self.render(
            command_line.format(plugin=self.plugin), args, free_form=free_form, **host
        )
        macros = {f"ARG{i}": value for i, value in enumerate(naemon_args(check_command), start=1)}
        macros |= {"HOSTADDRESS": ADDRESS, "HOSTNAME": "web01", "HOSTALIAS": host.get("alias") or "web01"}
        macros |= {"HOSTNOTES": host.get("notes") or ""}
        macros |= {f"_HOST{k[1:].upper()}": v for k, v in (host.get("custom_variables") or {}).items()}
        substituted = naemon_substitute(line, macros)
        return naemon_run(substituted, cwd=self.root, force=force)


@pytest.fixture
def node() -> Iterator[Node]:
    created = Node()
    try:
        yield created
    finally:
        shutil.rmtree(created.root, ignore_errors=True)


HTTP = "{plugin} -H $HOSTADDRESS$ -p $ARG1$ -w 5 -c 10"


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("path", ["", "shell", "direct"])
def test_a_check_argument_is_exactly_one_argument(node: Node, value: str, path: str) -> None:
    """``80 -H 169.254.169.254 ...`` is not four more options; ``80 #`` keeps ``-w 5 -c 10``; ``*`` globs nothing."""
    argv = node.check(HTTP, [value], force=path)
    assert argv == ["-H", ADDRESS, "-p", value, "-w", "5", "-c", "10"]


@pytest.mark.parametrize("value", ["80 -H 169.254.169.254 --extra-opts=section@/etc/shadow", "80 *", "80 #"])
def test_both_of_naemons_paths_are_exercised(node: Node, value: str) -> None:
    """Quotes are no shell syntax to Naemon: a plain line is split by Naemon, a pipeline by /bin/sh."""
    line, _ = node.render(HTTP.format(plugin=node.plugin), [value])
    assert runcmd_cmd2strv(naemon_substitute(line, {"ARG1": value, "HOSTADDRESS": ADDRESS}))[1] == 0
    piped = node.render(HTTP.format(plugin=node.plugin) + " | /bin/cat", [value])[0]
    assert runcmd_cmd2strv(naemon_substitute(piped, {"ARG1": value, "HOSTADDRESS": ADDRESS}))[1] != 0
    assert node.check(HTTP + " | /bin/cat", [value]) == ["-H", ADDRESS, "-p", value, "-w", "5", "-c", "10"]


@pytest.mark.parametrize("value", HOSTILE)
def test_macros_in_every_position_stay_one_argument(node: Node, value: str) -> None:
    """Alias, notes and custom variables too; in a word (``--url=``), in a command substitution."""
    line = '{plugin} --alias=$HOSTALIAS$ $HOSTNOTES$ $_HOSTRACK$ x$ARG1$y "$$(/usr/bin/printf %s $ARG1$)"'
    argv = node.check(line, [value], alias=f"web {value}", notes=value, custom_variables={"_RACK": value})
    assert argv == [f"--alias=web {value}", value, value, f"x{value}y", value]


def test_what_the_author_quoted_is_left_as_written(node: Node) -> None:
    line = '{plugin} "$ARG1$" \'$ARG2$\' "-s $ARG1$ and $ARG2$" $USER1$'
    rendered, _ = node.render(line.format(plugin=node.plugin), ["a b", "c *"])
    assert rendered.endswith('"$ARG1$" \'$ARG2$\' "-s $ARG1$ and $ARG2$" $USER1$')
    assert node.check(line.replace(" $USER1$", ""), ["a b", "c *"]) == ["a b", "c *", "-s a b and c *"]


def test_before_quoting_the_values_added_arguments(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """The finding, measured: without the quoting, the value adds options and the comment cuts the line."""
    monkeypatch.setattr(validation, "quote_macros", lambda line, what="", free_form=(): line)
    assert node.check(HTTP, ["80 -H 169.254.169.254 --extra-opts=section@/etc/shadow"]) == [
        "-H", ADDRESS, "-p", "80", "-H", "169.254.169.254", "--extra-opts=section@/etc/shadow",
        "-w", "5", "-c", "10",
    ]  # fmt: skip
    assert node.check(HTTP, ["80 #"], force="shell") == ["-H", ADDRESS, "-p", "80"]
    files = sorted(p.name for p in node.root.iterdir())
    assert node.check(HTTP, ["80 *"]) == ["-H", ADDRESS, "-p", "80", *files, "-w", "5", "-c", "10"]


@pytest.mark.parametrize("value", ["80\t1", "80\n", "a'b", "a\u202eb", "a\u200bb"])
def test_what_quoting_cannot_make_safe_is_refused(node: Node, value: str) -> None:
    with pytest.raises(NaemonValueError, match=r"check_command_args \$ARG1\$"):
        node.render(HTTP.format(plugin=node.plugin), [value])


# --- free-form arguments: staff declare which $ARGn$ split into words -----------------------------

FREE = "{plugin} $ARG1$ -w 5 -c 10"
# Values that would do more than split into words if the line left them unquoted.
HOSTILE_FREE_FORM = [
    "80 *",
    "80 #",
    "80 # -w 1",
    "-p ?",
    "[a-z]",
    "~root",
    "~",
    "{a,b}",
    "a (b)",
    "x =y",
    "a\u00a0b",
]


@pytest.mark.parametrize("path", ["", "shell", "direct"])
def test_a_free_form_argument_is_the_words_its_author_meant(node: Node, path: str) -> None:
    """``check_http!-H www -p 80`` with a free-form $ARG1$: four arguments, as Naemon gave them before."""
    argv = node.check(FREE, ["-H www -p 80"], free_form=[1], force=path)
    assert argv == ["-H", "www", "-p", "80", "-w", "5", "-c", "10"]


@pytest.mark.parametrize("path", ["", "shell", "direct"])
def test_only_the_declared_argument_is_free_form(node: Node, path: str) -> None:
    argv = node.check("{plugin} $ARG1$ -p $ARG2$", ["-H www", "80 -H x *"], free_form=[1], force=path)
    assert argv == ["-H", "www", "-p", "80 -H x *"]


@pytest.mark.parametrize("value", HOSTILE_FREE_FORM)
def test_a_free_form_value_that_is_more_than_words_is_refused(node: Node, value: str) -> None:
    """The renderer re-checks: a value stored before its argument became free-form never reaches a file."""
    with pytest.raises(NaemonValueError, match=r"host 'web01': check_command_args \$ARG1\$ \(a free-form"):
        node.render(FREE.format(plugin=node.plugin), [value], free_form=[1])


def test_what_a_free_form_value_would_do_unchecked(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why those values are refused: unquoted, ``*`` globs and ``#`` cuts the line."""
    monkeypatch.setattr(validation, "check_free_form_argument", lambda value, what="": value)
    files = sorted(p.name for p in node.root.iterdir())
    assert node.check(FREE, ["80 *"], free_form=[1]) == ["80", *files, "-w", "5", "-c", "10"]
    assert node.check(FREE, ["80 #"], free_form=[1], force="shell") == ["80"]


@pytest.mark.parametrize(
    ("free_form", "why"),
    [
        ([2], "has no $ARG2$"),
        ([33], "not an argument number"),
        ([0], "not an argument number"),
        ("1", "a list"),
    ],
)
def test_a_command_declares_only_arguments_its_line_has(node: Node, free_form: Any, why: str) -> None:
    with pytest.raises(NaemonValueError, match=re.escape(why)):
        node.render(FREE.format(plugin=node.plugin), ["80"], free_form=free_form)


# --- the quoting itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "quoted"),
    [
        ("$USER1$/check_http -H $HOSTADDRESS$ -p $ARG1$", "$USER1$/check_http -H '$HOSTADDRESS$' -p '$ARG1$'"),
        ('mail -s "$NOTIFICATIONTYPE$ $HOSTNAME$" $CONTACTEMAIL$', 'mail -s "$NOTIFICATIONTYPE$ $HOSTNAME$" \'$CONTACTEMAIL$\''),
        ("a --url=$ARG1$/x", "a --url='$ARG1$'/x"),
        ("a $$(b $ARG1$) \"$$(c $ARG2$)\" `d $ARG3$`", "a $$(b '$ARG1$') \"$$(c '$ARG2$')\" `d '$ARG3$'`"),
        ("a $ARG1$$ARG2$ $$HOME", "a '$ARG1$''$ARG2$' $$HOME"),
        ("a $HOSTALIAS:web01$ $_HOSTRACK$", "a '$HOSTALIAS:web01$' '$_HOSTRACK$'"),
        ("a '$ARG1$' # it's $ARG2$", "a '$ARG1$' # it's $ARG2$"),  # a comment: the shell never reads it
        ("a || [ $$? -ne 86 ] || exit 0 && ( b $ARG1$ )", "a || [ $$? -ne 86 ] || exit 0 && ( b '$ARG1$' )"),
    ],
)  # fmt: skip
def test_unquoted_macros_are_single_quoted(line: str, quoted: str) -> None:
    assert validation.quote_macros(line) == quoted
    assert validation.quote_macros(quoted) == quoted


@pytest.mark.parametrize(
    ("line", "why"),
    [("a \\$ARG1$", "backslash before $ARG1$"), ("a $$$ARG1$", "'$' (written '$$') before $ARG1$")],
)
def test_lines_quoting_cannot_help_are_refused(line: str, why: str) -> None:
    with pytest.raises(NaemonValueError, match=re.escape(why)):
        validation.check_command_line(line)


WORDS = st.sampled_from(
    ["a", "$ARG1$", "$HOSTALIAS$", "'", '"', "\\", "$$", "(", ")", "`", "$$(", " ", "#", "|"]
)


@settings(max_examples=300, deadline=None)
@given(line=st.lists(WORDS, max_size=10).map("".join))
def test_quoting_is_idempotent_and_only_adds_quotes(line: str) -> None:
    try:
        quoted = validation.quote_macros(line)
    except NaemonValueError:
        return
    assert validation.quote_macros(quoted) == quoted
    assert quoted.replace("'", "") == line.replace("'", "")


# --- through the API ---------------------------------------------------------------------------

API = "/api/v1/registry"
HOST = {"team": "web", "hostgroups": ["web"], "templates": ["generic-host"]}


@pytest.mark.django_db
def test_the_api_keeps_accepting_values_that_are_now_one_argument(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    body = {**HOST, "check_command": "check_http", "check_command_args": ["80 #", "-w 80%", "/var", "*"]}
    response = api.put(f"{API}/hosts/web02/", {**body, "alias": "Web (rack {4}) ~ops"}, format="json")
    assert response.status_code == 202, response.content
    assert Host.objects.get(name="web02").check_command_args == ["80 #", "-w 80%", "/var", "*"]


@pytest.mark.django_db
def test_the_api_refuses_a_tab_in_a_check_argument(api: Any, site: Site, deploys: DeployRecorder) -> None:
    body = {**HOST, "check_command": "check_http", "check_command_args": ["80\t-H x"]}
    response = api.put(f"{API}/hosts/web02/", body, format="json")
    assert response.status_code == 400, response.content
    assert "control character U+0009" in " ".join(response.json()["check_command_args"])
    assert not Host.objects.filter(name="web02").exists() and deploys.calls == []


@pytest.mark.django_db
def test_the_api_refuses_a_command_line_quoting_cannot_help(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    response = api.put(f"{API}/commands/check_x/", {"command_line": "/bin/x \\$ARG1$"}, format="json")
    assert response.status_code == 400, response.content
    assert "backslash before $ARG1$" in " ".join(response.json()["command_line"])
    assert not Command.objects.filter(name="check_x").exists()


@pytest.mark.django_db
def test_staff_declare_a_free_form_argument(api: Any, site: Site, deploys: DeployRecorder) -> None:
    response = api.patch(f"{API}/commands/check_http/", {"free_form_args": [1, 1]}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["free_form_args"] == [1]
    assert Command.objects.get(name="check_http").free_form_args == [1]
    assert api.get(f"{API}/commands/check_http/").json()["free_form_args"] == [1]
    # Team members may now pass several words to it; the argument that is not free-form is unchanged.
    body = {**HOST, "check_command": "check_http", "check_command_args": ["-H www -p 80"]}
    assert api.put(f"{API}/hosts/web02/", body, format="json").status_code == 202
    assert Host.objects.get(name="web02").check_command_args == ["-H www -p 80"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["80 *", "80 #", "$(id)", "~root", "{a,b}", "-p 80\u00a0-H x"])
def test_the_api_refuses_a_free_form_value_that_is_more_than_words(
    api: Any, site: Site, deploys: DeployRecorder, value: str
) -> None:
    Command.objects.filter(name="check_http").update(free_form_args=[1])
    body = {**HOST, "check_command": "check_http", "check_command_args": [value]}
    response = api.put(f"{API}/hosts/web02/", body, format="json")
    assert response.status_code == 400, response.content
    assert "$ARG1$" in " ".join(response.json()["check_command_args"])
    patched = api.patch(f"{API}/hosts/web01/services/HTTP/", {"check_command_args": [value]}, format="json")
    assert patched.status_code == 400, patched.content
    assert list(patched.json()) == ["check_command_args"]
    assert not Host.objects.filter(name="web02").exists() and deploys.calls == []
    assert Service.objects.get(description="HTTP").check_command_args == ["80"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("free_form", "why"),
    [([2], "no $ARG2$"), ([33], "less than or equal to 32"), ("1", "list"), ([1.5], "integer")],
)
def test_the_api_refuses_a_free_form_declaration_the_line_cannot_take(
    api: Any, site: Site, deploys: DeployRecorder, free_form: Any, why: str
) -> None:
    response = api.patch(f"{API}/commands/check_http/", {"free_form_args": free_form}, format="json")
    assert response.status_code == 400, response.content
    assert why in str(response.json()["free_form_args"])
    assert Command.objects.get(name="check_http").free_form_args == [] and deploys.calls == []


@pytest.mark.django_db
def test_an_argument_with_stored_values_that_are_more_than_words_stays_one_argument(
    api: Any, site: Site, deploys: DeployRecorder
) -> None:
    """``80 *`` was accepted as one argument; declaring its argument free-form would glob it."""
    Service.objects.filter(description="HTTP").update(check_command_args=["80 *"])
    response = api.patch(f"{API}/commands/check_http/", {"free_form_args": [1]}, format="json")
    assert response.status_code == 400, response.content
    assert "service web01/HTTP: $ARG1$ (a free-form argument" in " ".join(response.json()["free_form_args"])
    assert Command.objects.get(name="check_http").free_form_args == [] and deploys.calls == []


@pytest.mark.django_db
def test_only_staff_declare_free_form_arguments(
    api_client_for: Any, owner: Any, site: Site, deploys: DeployRecorder
) -> None:
    client = api_client_for(owner)
    response = client.patch(f"{API}/commands/check_http/", {"free_form_args": [1]}, format="json")
    assert response.status_code == 403, response.content
    body = {"command_line": "/bin/x $ARG1$", "free_form_args": [1]}
    assert client.put(f"{API}/commands/check_x/", body, format="json").status_code == 403
    assert Command.objects.get(name="check_http").free_form_args == []
    assert not Command.objects.filter(name="check_x").exists() and deploys.calls == []
