"""The deploy pipeline without a running core: claiming, coalescing, locking, staging, verify, rollback, runner I/O."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from livestatus.client import LivestatusClient, LivestatusQuery, UnknownColumnError
from registry import deploy, runner, tasks, versions
from registry.models import Contact, Deployment, Host, HostGroup, HostUse, NaemonNode, Service, ServiceUse
from registry.render import State
from registry.tasks import deploy_node
from tests.services.nagios import NAGIOS, NagiosCore, VerifyDir
from tests.services.replay import ReplayServer, fixed16, json_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def node(db: None, tmp_path: Path, basics: dict[str, Any]) -> NaemonNode:
    """A node whose verify and reload commands are plain programs (no core)."""
    main = tmp_path / "naemon.cfg"
    main.write_text(f"log_file=/tmp/x.log\ncfg_file=objects/static.cfg\ncfg_dir={tmp_path}/portal.d\n")
    return NaemonNode.objects.create(
        name="n1",
        config_dir=str(tmp_path / "portal.d"),
        main_config=str(main),
        verify_command="/bin/grep -q cfg_dir= {main_config}",
        reload_method="none",
    )


def host(name: str, basics: dict[str, Any]) -> Host:
    h = Host.objects.create(name=name)
    HostUse.objects.create(host=h, template=basics["host_template"])
    return h


def test_render_swap_and_skip(node: NaemonNode, basics: dict[str, Any]) -> None:
    host("web1", basics)
    first = Deployment.objects.create(node=node)
    assert deploy.deploy(node.pk) == first.pk
    first.refresh_from_db()
    assert first.state == "confirmed", first.error
    assert first.confirmation == "config swapped in; not reloaded (reload method none)"
    assert first.verify_output.startswith("$ /bin/grep -q cfg_dir= ")
    live = Path(node.config_dir)
    assert live.is_symlink() and os.readlink(live) == f"portal.d.versions/{first.pk}"
    assert "host_name web1" in (live / "hosts.cfg").read_text()
    manifest = json.loads((live / versions.MANIFEST).read_text())
    assert manifest["content_hash"] == first.content_hash and set(manifest["hosts"]) == {"web1"}
    assert not list(versions.versions_dir(node).glob("verify-*.cfg"))

    again = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    again.refresh_from_db()
    assert again.state == "skipped" and again.summary["unchanged"] is True

    # The live version was touched behind our back: not skipped, redeployed.
    (live / versions.MANIFEST).write_text("{}")
    third = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    third.refresh_from_db()
    assert third.state == "confirmed"


def test_oldest_pending_is_claimed_and_covers_the_rest(node: NaemonNode, basics: dict[str, Any]) -> None:
    host("web1", basics)
    pending = [Deployment.objects.create(node=node, triggered_by=f"w{i}") for i in range(4)]
    other_node = NaemonNode.objects.create(name="n2", config_dir=node.config_dir + "-2", reload_method="none")
    elsewhere = Deployment.objects.create(node=other_node)
    assert deploy.deploy(node.pk) == pending[0].pk
    for d in pending:
        d.refresh_from_db()
    assert [d.state for d in pending] == ["confirmed"] * 4
    assert [d.covered_by_id for d in pending] == [None, pending[0].pk, pending[0].pk, pending[0].pk]
    assert pending[1].confirmation == f"covered by deployment {pending[0].pk}"
    assert pending[0].summary["covers"] == [d.pk for d in pending[1:]]
    elsewhere.refresh_from_db()
    assert elsewhere.state == "pending"
    assert deploy.deploy(node.pk) is None  # nothing left


def test_interrupted_run_is_marked_failed(node: NaemonNode, basics: dict[str, Any]) -> None:
    stuck = Deployment.objects.create(node=node, state="verifying")
    Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    stuck.refresh_from_db()
    assert stuck.state == "failed" and "interrupted" in stuck.error


def test_busy_lock_leaves_work_to_the_holder(
    node: NaemonNode,
    basics: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(deploy, "LOCK_WAIT", 0.0)
    host("web1", basics)
    with deploy.node_lock(node) as held:
        assert held
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            (d,) = tasks.request_deployments([node], triggered_by="t")
        d.refresh_from_db()
        assert d.state == "pending"
        with deploy.node_lock(node) as second:
            assert not second

    # A write that lands while a run holds the lock is picked up by that run's follow-up.
    real_load = deploy.load_snapshot
    arrived: list[Deployment] = []

    def load_and_write_meanwhile(n: NaemonNode) -> Any:
        if not arrived:
            arrived.append(Deployment.objects.create(node=n, triggered_by="meanwhile"))
        return real_load(n)

    monkeypatch.setattr(deploy, "load_snapshot", load_and_write_meanwhile)
    deploy_node.delay(node.pk)
    d.refresh_from_db()
    arrived[0].refresh_from_db()
    assert d.state == "confirmed"
    assert arrived[0].state == "skipped" and arrived[0].covered_by_id is None


def test_failed_verification_keeps_the_live_config(node: NaemonNode, basics: dict[str, Any]) -> None:
    host("web1", basics)
    Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    target = os.readlink(node.config_dir)
    node.verify_command = "/bin/sh -c 'echo Error: broken config in $0; exit 1' {main_config}"
    node.save()
    host("web2", basics)
    failed = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    failed.refresh_from_db()
    assert failed.state == "failed" and "verification failed (exit 1)" in failed.error
    assert "Error: broken config in " in failed.verify_output
    assert os.readlink(node.config_dir) == target
    kept = sorted(p.name for p in versions.versions_dir(node).iterdir() if not p.name.startswith("."))
    assert kept == [target.split("/")[-1]]  # the staged version is gone (".lock": without Redis)


def test_failed_reload_rolls_back_to_the_previous_version(node: NaemonNode, basics: dict[str, Any]) -> None:
    host("web1", basics)
    Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    target = os.readlink(node.config_dir)
    node.reload_method = "command"
    node.reload_command = "/bin/sh -c 'echo cannot reload; exit 3'"
    node.save()
    host("web2", basics)
    failed = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    failed.refresh_from_db()
    assert failed.state == "failed"
    assert "reload command exited 3" in failed.error and "rolled back" in failed.error
    assert "cannot reload" in failed.reload_output
    assert os.readlink(node.config_dir) == target


def test_reload_command_without_status_source(node: NaemonNode, basics: dict[str, Any]) -> None:
    node.reload_method = "command"
    node.reload_command = "/bin/echo reloaded"
    node.save()
    host("web1", basics)
    d = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    d.refresh_from_db()
    assert d.state == "confirmed" and "reloaded\n" in d.reload_output
    assert "not confirmed" in d.confirmation


def test_rendering_error_fails_without_writing(node: NaemonNode, basics: dict[str, Any]) -> None:
    Host.objects.filter(pk=host("web1", basics).pk).update(alias="a\nb")
    d = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    d.refresh_from_db()
    assert d.state == "failed" and d.error.startswith("rendering failed: host 'web1': alias")
    assert not Path(node.config_dir).exists()


def test_verifier_timeout_is_retried_then_fails(
    node: NaemonNode, basics: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy, "VERIFY_TIMEOUT", 0.3)
    node.verify_command = "/bin/sh -c 'sleep 5' {main_config}"
    node.save()
    host("web1", basics)
    d = Deployment.objects.create(node=node)
    with pytest.raises(deploy.TransientDeployError):
        deploy.deploy(node.pk, final_attempt=False)
    d.refresh_from_db()
    assert d.state == "pending" and d.started_at is None and "will retry" in d.error
    deploy_node.delay(node.pk)  # eager: its only attempt is the final one
    d.refresh_from_db()
    assert d.state == "failed" and "did not finish within" in d.error and "retrying can help" in d.error


def test_adopts_an_existing_directory(node: NaemonNode, basics: dict[str, Any]) -> None:
    Path(node.config_dir).mkdir()
    (Path(node.config_dir) / "handmade.cfg").write_text("# before the portal\n")
    host("web1", basics)
    Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    assert (versions.versions_dir(node) / "initial" / "handmade.cfg").exists()
    assert Path(node.config_dir).is_symlink()


def test_staged_main_config(node: NaemonNode, tmp_path: Path) -> None:
    staged = tmp_path / "portal.d.versions" / "7"
    text = versions.staged_main_config(node, staged)
    assert text.split("\n") == [
        "log_file=/tmp/x.log",
        f"cfg_file={tmp_path}/objects/static.cfg",  # relative to the original main config
        f"cfg_dir={staged}",
        "",
    ]
    Path(node.main_config).write_text(f"cfg_dir={tmp_path}\n")
    with pytest.raises(runner.RunnerError, match="inside cfg_dir"):
        versions.staged_main_config(node, staged)
    Path(node.main_config).write_text("cfg_dir=/etc/elsewhere\n")
    with pytest.raises(runner.RunnerError, match="never read the portal's config"):
        versions.staged_main_config(node, staged)
    node.main_config = ""
    assert versions.staged_main_config(node, staged) == f"cfg_dir={staged}\n"


# A main config written like Naemon's stock one (naemon-core sample-config/naemon.cfg.in): every
# path relative to its directory, a module directory included at the end.
STOCK_MAIN_CONFIG = """\
# BASE DIRECTORY: all (not absolute) paths are relative to the folder of this file.
log_file=naemon.log
cfg_dir=portal.d
object_cache_file=objects.cache
precached_object_file=objects.precache
resource_file=resource.cfg
status_file=status.dat
command_file=naemon.cmd
query_socket=naemon.qh
lock_file=naemon.pid
temp_file=naemon.tmp
temp_path=tmp
check_result_path=spool
state_retention_file=retention.dat
debug_file=naemon.debug
log_archive_path=archives
illegal_macro_output_chars=`~$&|'"<>
include_dir=module-conf.d
"""


def test_staged_main_config_resolves_every_path_like_naemon(node: NaemonNode, tmp_path: Path) -> None:
    """include_dir=module-conf.d (relative) and the files in it resolve as for the original main config."""
    main = Path(node.main_config)
    main.write_text(STOCK_MAIN_CONFIG + "broker_module=lib/livestatus.so live inet_addr=127.0.0.1:6557\n")
    modules = tmp_path / "module-conf.d"
    modules.mkdir()
    # Naemon reads included files with the main config's directory as the base, not their own.
    (modules / "livestatus.cfg").write_text("broker_module=lib/livestatus.so live\ninclude_file=extra.cfg\n")
    (modules / ".hidden.cfg").write_text("cfg_dir=/nowhere\n")
    (modules / "README").write_text("not read by Naemon\n")
    (tmp_path / "extra.cfg").write_text("temp_file=./scratch/naemon.tmp\n# check_result_path=x\n")
    staged = tmp_path / "portal.d.versions" / "7"
    copies = versions.staged_includes(staged)
    text = versions.staged_main_config(node, staged)
    t = str(tmp_path)
    assert text.split("\n") == [
        "# BASE DIRECTORY: all (not absolute) paths are relative to the folder of this file.",
        f"log_file={t}/naemon.log",
        f"cfg_dir={staged}",
        f"object_cache_file={t}/objects.cache",
        f"precached_object_file={t}/objects.precache",
        f"resource_file={t}/resource.cfg",
        f"status_file={t}/status.dat",
        f"command_file={t}/naemon.cmd",
        f"query_socket={t}/naemon.qh",
        f"lock_file={t}/naemon.pid",
        "temp_file=naemon.tmp",  # without a leading '.', Naemon puts it in temp_path
        f"temp_path={t}/tmp",
        f"check_result_path={t}/spool",
        f"state_retention_file={t}/retention.dat",
        f"debug_file={t}/naemon.debug",
        f"log_archive_path={t}/archives",
        "illegal_macro_output_chars=`~$&|'\"<>",
        f"include_file={copies}{t}/module-conf.d/livestatus.cfg",  # hidden and non-.cfg files skipped
        f"broker_module={t}/lib/livestatus.so live inet_addr=127.0.0.1:6557",
        "",
    ]
    assert (copies / f"{t[1:]}/module-conf.d/livestatus.cfg").read_text() == (
        f"broker_module={t}/lib/livestatus.so live\ninclude_file={copies}{t}/extra.cfg\n"
    )
    assert (copies / f"{t[1:]}/extra.cfg").read_text() == (
        f"temp_file={t}/scratch/naemon.tmp\n# check_result_path=x\n"
    )
    # A directory the core cannot open stays as it is: the verifier reports it as for the original.
    main.write_text(
        f"cfg_dir={tmp_path}/portal.d\ninclude_dir=missing.d\nconfig_rel_path=/etc/naemon\nlog_file=x.log\n"
    )
    assert versions.staged_main_config(node, staged).split("\n")[1:] == [
        f"include_dir={t}/missing.d",
        "config_rel_path=/etc/naemon",  # newer Naemon: the base of the paths after it
        "log_file=/etc/naemon/x.log",
        "",
    ]


def test_a_stock_like_main_config_verifies_with_nagios(
    db: None, basics: dict[str, Any], verify_dir: VerifyDir
) -> None:
    """Relative paths (temp_path, check_result_path, log_file, ...) resolve next to the original: nagios4 -v passes."""
    core = verify_dir.core
    for sub in ("tmp", "spool", "archives"):
        (core.dir / sub).mkdir(exist_ok=True)
    (core.dir / "resource.cfg").write_text("$USER1$=/usr/lib/nagios/plugins\n")
    # Nagios 4 does not know include_dir (UNKNOWN VARIABLE): the stock config without it.
    stock = STOCK_MAIN_CONFIG.replace("include_dir=module-conf.d\n", "")
    if core.user:
        stock += f"nagios_user={core.user}\nnagios_group={core.user}\n"
    core.main_config.write_text(stock)
    core.own()
    node = NaemonNode.objects.create(
        name="stock", config_dir=str(core.config_dir), main_config=str(core.main_config),
        verify_command=core.verify_command, reload_method="none",
    )  # fmt: skip
    host("web1", basics)
    d = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    d.refresh_from_db()
    assert d.state == "confirmed", (d.error, d.verify_output)
    assert "Total Errors:   0" in d.verify_output


# What naemon -v prints as root (src/naemon/naemon.c: the banner, then this, exit(EXIT_FAILURE)),
# and with --allow-root the warning before it goes on.
NAEMON_AS_ROOT = """\
#!/bin/sh
printf '\\nNaemon Core 1.5.2\\nLicense: GPL\\n\\nWebsite: https://www.naemon.io\\n'
for arg; do
    if [ "$arg" = --allow-root ]; then
        echo 'WARNING: you are running as root which is not recommended.'
        printf 'Reading configuration data...\\n\\nTotal Warnings: 0\\nTotal Errors:   0\\n'
        exit 0
    fi
done
echo 'ERROR: do not start naemon as root user.'
exit 1
"""


def test_naemon_refusing_root_says_what_to_do(
    node: NaemonNode, basics: dict[str, Any], tmp_path: Path
) -> None:
    stand_in = tmp_path / "naemon"
    stand_in.write_text(NAEMON_AS_ROOT)
    stand_in.chmod(0o755)
    node.verify_command = f"{stand_in} -v {{main_config}}"
    node.save()
    host("web1", basics)
    refused = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    refused.refresh_from_db()
    assert refused.state == "failed" and "ERROR: do not start naemon as root user." in refused.verify_output
    assert refused.error.startswith("verification failed (exit 1); the live config is unchanged. ")
    assert "run this node's worker as the core's user" in refused.error
    assert "add --allow-root to the node's verify command" in refused.error
    assert not Path(node.config_dir).exists()

    # Doing what it says: the deploy goes through, and Naemon's warning about it is on the deployment.
    node.verify_command = f"{stand_in} --allow-root -v {{main_config}}"
    node.save()
    allowed = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    allowed.refresh_from_db()
    assert allowed.state == "confirmed", allowed.error
    # The verifier's warning, then the portal's own (web1 has no contacts: registry/coverage.py).
    assert allowed.warnings == [
        "WARNING: you are running as root which is not recommended.",
        "Coverage: Host 'web1' would notify nobody: no contacts (nobody is a contact)",
    ]


def test_verifier_warnings_show_on_the_deployment_api_and_page(
    db: None, basics: dict[str, Any], verify_dir: VerifyDir, api: Any, client: Any, staff: Any
) -> None:
    """A warning nagios4 -v really prints (re-notified more often than checked) is kept and shown."""
    core = verify_dir.core
    node = NaemonNode.objects.create(name="warned", reload_method="none", **{
        k: v for k, v in core.node_fields().items() if k in ("config_dir", "main_config", "verify_command")
    })  # fmt: skip
    Contact.objects.filter(name="oncall").update(user=staff)  # the default contact group: staff's
    h = host("web1", basics)
    service = Service.objects.create(host=h, description="Ping", notification_interval=1)
    ServiceUse.objects.create(service=service, template=basics["service_template"])
    d = Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    d.refresh_from_db()
    warning = (
        "Warning: Service 'Ping' on host 'web1'  has a notification interval less than its check interval!"
    )
    assert d.state == "confirmed", (d.error, d.verify_output)
    assert [w[: len(warning)] for w in d.warnings] == [warning], d.verify_output
    body = api.get(f"/api/v1/registry/deployments/{d.pk}/").json()
    assert body["warnings"] == d.warnings
    client.force_login(staff)
    page = client.get("/registry/nodes/warned/").content.decode()
    assert "The verifier warned (1):" in page and "has a notification interval less than its check" in page


def test_verify_argv_substitutes_without_a_shell(node: NaemonNode) -> None:
    node.verify_command = "naemon -v '{main_config}'"
    assert deploy.verify_argv(node, Path("/a b/main.cfg")) == ["naemon", "-v", "/a b/main.cfg"]
    node.verify_command = "naemon -v"
    with pytest.raises(runner.RunnerError, match="placeholder"):
        deploy.verify_argv(node, Path("/x"))


# --- runner -----------------------------------------------------------------------------


def test_run_kills_on_timeout_and_reports_missing_binaries() -> None:
    result = runner.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 2"], timeout=5)
    assert result.returncode == 2 and result.output == "out\nerr\n"
    with pytest.raises(runner.RunnerError, match="did not finish") as slow:
        runner.run(["/bin/sh", "-c", "echo started; sleep 10"], timeout=0.3)
    assert slow.value.retryable and slow.value.output == "started\n"
    with pytest.raises(runner.RunnerError, match="command not found") as missing:
        runner.run(["/nonexistent/naemon"], timeout=1)
    assert not missing.value.retryable and "retrying will not help" in str(missing.value)


def test_clip_keeps_the_end() -> None:
    text = "a" * 100 + "VERDICT"
    clipped = runner.clip(text, limit=40)
    assert clipped.endswith("VERDICT") and "left out" in clipped


def test_external_command_file(tmp_path: Path) -> None:
    fifo = tmp_path / "naemon.cmd"
    with pytest.raises(runner.RunnerError, match="does not exist") as missing:
        runner.send_external_command(str(fifo), "[1] RESTART_PROGRAM")
    assert missing.value.retryable
    os.mkfifo(fifo)
    with pytest.raises(runner.RunnerError, match="core is not running"):
        runner.send_external_command(str(fifo), "[1] RESTART_PROGRAM")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        runner.send_external_command(str(fifo), "[1] RESTART_PROGRAM", timeout=2)
        assert os.read(reader, 100) == b"[1] RESTART_PROGRAM\n"
        # A full pipe (nobody reading fast enough) times out instead of blocking.
        os.write(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), b"x" * 65536)
        with pytest.raises(runner.RunnerError, match="stayed full"):
            runner.send_external_command(str(fifo), "[2] RESTART_PROGRAM", timeout=0.3)
    finally:
        os.close(reader)
    plain = tmp_path / "plain.cmd"
    plain.write_text("")
    runner.send_external_command(str(plain), "[3] RESTART_PROGRAM\n")
    assert plain.read_text() == "[3] RESTART_PROGRAM\n"


def test_status_file_parsing(tmp_path: Path) -> None:
    status = tmp_path / "status.dat"
    status.write_text(
        "info {\n\tcreated=1\n\t}\n\nprogramstatus {\n\tnagios_pid=42\n\tprogram_start=1700000000\n\t}\n\n"
        "hoststatus {\n\thost_name=web 1\n\tcurrent_state=0\n\t}\n\n"
        "servicestatus {\n\thost_name=ghost\n\tservice_description=x\n\t}\n"
        "\nservicestatus {\n\thost_name=web 1\n\tservice_description=Disk /var = full\n"
        "\tcheck_interval=5.000000\n\t}\n"
    )
    # One pass: program_start, the hosts and the services by (host, description).
    parsed = runner.read_status_file(str(status))
    assert (parsed.program_start, parsed.hosts) == (1700000000, {"web 1"})
    assert parsed.services == {("ghost", "x"), ("web 1", "Disk /var = full")}
    # Not restarted since, or only program_start wanted: only the head is read, no object lists.
    assert runner.read_status_file(str(status), started_after=1700000000) == runner.CoreStatus(1700000000)
    assert runner.read_status_file(str(status), objects=False) == runner.CoreStatus(1700000000)
    assert runner.read_status_file(str(status), started_after=1699999999) == parsed
    # programstatus beyond the head (a huge info block): the whole file is read for it.
    status.write_text("info {\n" + "\tpadding=x\n" * 8000 + "\t}\n\n" + status.read_text().split("\n", 3)[3])
    assert status.stat().st_size > 64 * 1024
    assert runner.read_status_file(str(status), objects=False) == runner.CoreStatus(1700000000)
    assert runner.read_status_file(str(status), started_after=1700000000) == runner.CoreStatus(1700000000)
    assert runner.read_status_file(str(status), started_after=1699999999) == parsed
    for started_after, objects in ((None, True), (1, True), (None, False)):
        with pytest.raises(runner.RunnerError, match="does not exist") as gone:
            runner.read_status_file(str(tmp_path / "none.dat"), started_after=started_after, objects=objects)
        assert gone.value.retryable


def test_expected_services_expand_host_groups() -> None:
    state = State(
        hosts=[
            {"name": "web1", "hostgroups": ["web"]},
            {"name": "web2", "hostgroups": ["web", "edge"]},
            {"name": "db1", "hostgroups": []},
        ],
        services=[
            {"host": "db1", "hostgroups": [], "description": "Ping"},
            {"host": None, "hostgroups": ["web", "edge"], "description": "HTTP"},
            {"host": "db1", "hostgroups": ["edge"], "description": "Both"},
            {"host": None, "hostgroups": ["empty"], "description": "Nobody"},
        ],
    )
    assert deploy.expected_services(state) == {
        ("db1", "Ping"),
        ("web1", "HTTP"),
        ("web2", "HTTP"),  # in two of its groups: once, as in the core
        ("db1", "Both"),
        ("web2", "Both"),
    }


def test_the_manifest_records_expanded_services_for_the_next_deploy(
    node: NaemonNode, basics: dict[str, Any]
) -> None:
    group = HostGroup.objects.create(name="web")
    for name in ("web1", "web2"):
        host(name, basics).hostgroups.add(group)
    service = Service.objects.create(description="HTTP")
    service.hostgroups.add(group)
    Deployment.objects.create(node=node)
    deploy.deploy(node.pk)
    manifest = versions.read_manifest(versions.live_version(node))
    assert manifest["host_services"] == {"web1": ["HTTP"], "web2": ["HTTP"]}
    assert versions.read_manifest(None) == {}


class FakeLivestatus:
    """A unix socket that records requests and answers like Naemon's Livestatus (for the wire format only)."""

    def __init__(self, path: Path, answers: dict[str, bytes]) -> None:
        self.path, self.answers = path, answers
        self.requests: list[str] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                # A request ends with an empty line (the client may keep its side open).
                while not data.endswith(b"\n\n") and (chunk := conn.recv(4096)):
                    data += chunk
                request = data.decode()
                self.requests.append(request)
                table = request.split("\n", 1)[0]
                body = self.answers.get(table)
                if body is not None:
                    conn.sendall(f"200 {len(body):>11}\n".encode() + body)

    def close(self) -> None:
        self.server.close()
        self.path.unlink()


def test_livestatus_reload_and_confirmation_wire_format(tmp_path: Path) -> None:
    fake = FakeLivestatus(
        tmp_path / "live",
        {
            "GET status": b"[[1700000005]]\n",
            "GET hosts": b'[["web1"],["web2"]]\n',
            "GET services": b'[["web1","Ping"],["web2","Disk /var"]]\n',
        },
    )
    address = f"unix:{tmp_path / 'live'}"
    try:
        assert runner.livestatus_restart(address).startswith("sent COMMAND RESTART_PROCESS")
        status = runner.livestatus_core_status(address)
        asked = len(fake.requests)
        # Only program_start wanted, or the core not restarted since: no object lists asked for.
        just_start = runner.livestatus_core_status(address, objects=False)
        not_restarted = runner.livestatus_core_status(address, started_after=1700000005)
        restarted = runner.livestatus_core_status(address, started_after=1700000004)
    finally:
        fake.close()
    assert re.fullmatch(r"COMMAND \[\d+\] RESTART_PROCESS\n\n", fake.requests[0]), fake.requests
    assert fake.requests[1].startswith("GET status\nColumns: program_start\n")
    assert fake.requests[2].startswith("GET hosts\nColumns: name\n")
    assert fake.requests[3].startswith("GET services\nColumns: host_name description\n")
    assert status.program_start == 1700000005 and status.hosts == {"web1", "web2"}
    assert status.services == {("web1", "Ping"), ("web2", "Disk /var")}
    assert just_start == not_restarted == runner.CoreStatus(1700000005)
    assert restarted == status
    asked_later = [r.split("\n", 1)[0] for r in fake.requests[asked:]]
    assert asked_later == ["GET status", "GET status", "GET status", "GET hosts", "GET services"]
    with pytest.raises(runner.RunnerError) as down:
        runner.livestatus_restart(address, timeout=0.5)
    assert down.value.retryable


def test_livestatus_node_confirms_through_livestatus(
    node: NaemonNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deploy, "CONFIRM_GRACE", 0.3)
    fake = FakeLivestatus(
        tmp_path / "live2",
        {
            "GET status": b"[[1700000009]]\n",
            "GET hosts": b'[["web1"],["portal-placeholder"]]\n',
            # The renderer's placeholder and a site's own service: listed, not ours, not flagged.
            "GET services": b'[["web1","Ping"],["web1","Disk /var"],["portal-placeholder","placeholder"]]\n',
        },
    )
    node.livestatus = f"unix:{tmp_path / 'live2'}"

    def expect(**fields: Any) -> deploy.Expectation:
        base: dict[str, Any] = {
            "started_after": 1700000000,
            "present": {"web1"},
            "absent": {"gone"},
            "services": {("web1", "Ping"), ("web1", "Disk /var")},
            "services_absent": {("web1", "Old"), ("gone", "Ping")},
        }
        return deploy.Expectation(**(base | fields))

    try:
        text = deploy.confirm(node, expect(), timeout=2)
        asked = len(fake.requests)
        with pytest.raises(runner.RunnerError, match="not confirmed within") as late:
            deploy.confirm(node, expect(started_after=1700000009), timeout=0.5)
        # While the core has not restarted, only its status is asked for, not a million rows.
        assert {r.split("\n", 1)[0] for r in fake.requests[asked:]} == {"GET status"}
        with pytest.raises(deploy.NotConfirmed) as missing:
            deploy.confirm(node, expect(present={"web1", "web2"}), timeout=5)
        with pytest.raises(deploy.NotConfirmed) as missing_service:
            deploy.confirm(node, expect(services={("web1", "Ping"), ("web1", "HTTP")}), timeout=5)
        with pytest.raises(deploy.NotConfirmed) as lingering:
            deploy.confirm(node, expect(services_absent={("web1", "Disk /var")}), timeout=5)
    finally:
        fake.close()
    assert text == (
        f"Livestatus {node.livestatus}: program_start 1700000000 -> 1700000009; lists all 1 hosts and "
        "2 services rendered (2 hosts, 3 services in all); 1 removed hosts and 2 removed services gone"
    )
    assert late.value.retryable and "program_start 1700000009 (before the reload: 1700000009)" in str(
        late.value
    )
    prefix = "reloaded (program_start 1700000000 -> 1700000009), but the core "
    assert str(missing.value).startswith(prefix + "does not list 1 hosts: web2 (by Livestatus unix:")
    assert not missing.value.retryable
    assert str(missing_service.value).startswith(prefix + "does not list 1 services: web1/HTTP (by")
    assert str(lingering.value).startswith(prefix + "still lists 1 removed services: web1/Disk /var (by")
    assert "GET services\nColumns: host_name description\n" in "".join(fake.requests)


def test_a_deploy_over_livestatus_that_misses_a_service_fails_and_rolls_back(
    node: NaemonNode, basics: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole pipeline against a Livestatus that lists the new host but not its service."""
    monkeypatch.setattr(deploy, "CONFIRM_GRACE", 0.3)
    h = host("web1", basics)
    ServiceUse.objects.create(
        service=Service.objects.create(host=h, description="Ping"), template=basics["service_template"]
    )
    Deployment.objects.create(node=node)
    deploy.deploy(node.pk)  # reload method none: swapped in, nothing to confirm
    target = os.readlink(node.config_dir)
    requests: list[str] = []

    class Answers(dict[str, bytes]):
        """program_start moves by 5 with every restart command the core was sent."""

        def get(self, key: str, default: Any = None) -> Any:
            if key == "GET status":
                restarts = sum(r.startswith("COMMAND ") for r in requests)
                return f"[[{1700000000 + 5 * restarts}]]\n".encode()
            return super().get(key, default)

    fake = FakeLivestatus(
        tmp_path / "live3", Answers({"GET hosts": b'[["web1"]]\n', "GET services": b"[]\n"})
    )
    requests = fake.requests
    NaemonNode.objects.filter(pk=node.pk).update(
        livestatus=f"unix:{tmp_path / 'live3'}", reload_method="livestatus"
    )
    Service.objects.filter(host=h).update(check_interval=17)  # a change: the deploy reloads
    failed = Deployment.objects.create(node=node)
    try:
        deploy.deploy(node.pk)
    finally:
        fake.close()
    failed.refresh_from_db()
    assert failed.state == "failed"
    assert failed.error.startswith(
        "not confirmed: reloaded (program_start 1700000000 -> 1700000005), "
        "but the core does not list 1 services: web1/Ping"
    ), failed.error
    assert "rolled back to the previous version and reloaded it" in failed.error
    assert failed.reload_output.startswith("sent COMMAND RESTART_PROCESS")
    assert os.readlink(node.config_dir) == target


def test_harness_uses_the_debian_binary() -> None:
    assert NagiosCore().verify_command == f"{NAGIOS} -v {{main_config}}"


def test_the_confirmation_queries_use_columns_naemon_has(tmp_path: Path) -> None:
    # The runner's clients skip the column check (a fresh client per poll); Naemon would
    # answer a misspelt column with "" and the confirmation would never see the new objects.
    def naemon(request: bytes) -> bytes:
        if request.startswith(b"GET status\nOutput"):
            return fixed16(200, json_body([["program_version"], ["1.5.2"]]))
        return fixed16(200, json_body([]))

    with (
        ReplayServer(naemon, directory=tmp_path) as core,
        LivestatusClient(core.address, timeout=5) as client,
    ):
        for query in runner.CONFIRM_QUERIES:
            client.query(query)  # UnknownColumnError if Naemon lacks a column
        with pytest.raises(UnknownColumnError):
            client.query(LivestatusQuery("hosts").select("nmae"))  # the check is really on
