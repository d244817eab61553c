r"""Commands as Naemon's core reads them, after naemon-livestatus unescaped the line.

naemon-livestatus passes every ``COMMAND`` line through ``unescape_newlines()``
(src/strutil.cc): ``\n`` becomes a line break, a backslash before any other
character is dropped. The stand-in server (replay.py) applies that rule and keeps
what the core would read in ``server.commands``; Icinga 2 (test_icinga.py) takes
the line verbatim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from livestatus.client import LivestatusClient, UnsafeValueError, commands
from livestatus.models import ActionLog
from livestatus.nodes import forget_clients
from registry.models import NaemonNode
from tests.services.replay import ReplayServer, fixed16, json_body, naemon_unescape

NAEMON_STATUS: list[list[object]] = [["program_version", "program_start"], ["1.5.2", 1_800_000_000]]

# The measured attack: one comment line that Naemon stored as two, the second
# read back from retention.dat as a directive at the next restart.
FORGED = r"looks harmless\nenable_notifications=0"


def naemon_core(request: bytes) -> bytes:
    """Naemon 1.5: status for dialect detection; commands accepted silently."""
    if request.startswith(b"GET status"):
        return fixed16(200, json_body(NAEMON_STATUS))
    return b""


@pytest.fixture
def core(tmp_path: Path) -> Iterator[ReplayServer]:
    with ReplayServer(naemon_core, directory=tmp_path) as server:
        yield server


def test_the_stand_in_unescapes_like_naemon_livestatus() -> None:
    # The rule as written in strutil.cc, so that the tests below test the real thing.
    assert naemon_unescape(r"a\nb") == "a\nb"
    assert naemon_unescape(r"C:\temp") == "C:temp"
    assert naemon_unescape("a\\\\b") == "a\\b"
    assert naemon_unescape("end\\") == "end"


def test_a_comment_cannot_add_a_line_on_naemon(core: ReplayServer) -> None:
    with LivestatusClient(core.address, timeout=5) as client:
        client.command(commands.add_service_comment("db1", "Postgres", FORGED, author="alice"), timestamp=7)
    assert core.commands == [f"COMMAND [7] ADD_SVC_COMMENT;db1;Postgres;1;alice;{FORGED}"]


def test_backslashes_in_names_and_text_reach_naemon_as_sent(core: ReplayServer) -> None:
    service = "Drive C:\\ Space"  # a legal Naemon service name
    with LivestatusClient(core.address, timeout=5) as client:
        client.command(
            commands.acknowledge_service("win1", service, r"path C:\temp\new", author=r"CORP\alice"),
            timestamp=8,
        )
        client.command(commands.schedule_forced_service_check("win1", service, 9), timestamp=9)
    assert core.commands == [
        r"COMMAND [8] ACKNOWLEDGE_SVC_PROBLEM;win1;Drive C:\ Space;2;1;0;CORP\alice;path C:\temp\new",
        r"COMMAND [9] SCHEDULE_FORCED_SVC_CHECK;win1;Drive C:\ Space;9",
    ]


def test_icinga_gets_the_text_verbatim(tmp_path: Path) -> None:
    with ReplayServer(lambda request: b"", directory=tmp_path) as icinga:
        with LivestatusClient(icinga.address, timeout=5, dialect="icinga2") as client:
            client.command(commands.add_host_comment("h", r"C:\temp\new", author="bob"), timestamp=5)
        assert icinga.requests == [rb"COMMAND [5] ADD_HOST_COMMENT;h;1;bob;C:\temp\new" + b"\n"]


# Text that leans on the dangerous characters: backslashes, n, ';', line breaks.
hostile = st.text(alphabet=st.sampled_from("\\n;a \n\r\t\u2028é"), max_size=12) | st.text(max_size=12)
Builder = Callable[[str, str, str], commands.Command]
BUILDERS: dict[str, Builder] = {
    "acknowledge": lambda name, text, who: commands.acknowledge_service(name, name, text, author=who),
    "comment": lambda name, text, who: commands.add_host_comment(name, text, author=who),
    "downtime": lambda name, text, who: commands.schedule_host_downtime(name, 1, 2, text, author=who),
    "result": lambda name, text, who: commands.process_service_check_result(name, name, 2, text),
}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(kind=st.sampled_from(sorted(BUILDERS)), name=hostile, text=hostile, author=hostile)
def test_naemon_decodes_exactly_what_the_caller_sent(kind: str, name: str, text: str, author: str) -> None:
    try:
        command = BUILDERS[kind](name, text, author)
    except (UnsafeValueError, ValueError):
        return  # refused before anything could be sent (line breaks, ';' in names, empty)
    decoded = naemon_unescape(command.wire_line(1, unescapes=True))
    assert decoded == command.line(1)  # every argument exactly as the caller gave it
    assert "\n" not in decoded
    assert command.wire_line(1, unescapes=False) == command.line(1)  # Icinga 2: verbatim


def test_a_comment_through_the_api_cannot_add_a_line(
    core: ReplayServer, api_client_for: Callable[[User | None], APIClient], staff: User
) -> None:
    NaemonNode.objects.create(name="naemon-1", livestatus=core.address, config_dir="/var/lib/portal-test/n1")
    forget_clients()
    api = api_client_for(staff)
    response = api.post(
        "/api/v1/livestatus/actions/comment/",
        {"host": "win1", "service": "Drive C:\\ Space", "comment": FORGED, "node": "naemon-1"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert len(core.commands) == 1
    assert core.commands[0].endswith(f";win1;Drive C:\\ Space;1;staff;{FORGED}")
    # The action log shows what the core read, not the doubled wire form.
    assert ActionLog.objects.get().command == core.commands[0]
