"""The cluster end to end on three real Nagios 4 cores: one checker and one notifier per object.

master-a (priority 10, the active master), master-b (priority 20) and poller-1 (owns host group
``pollered``, notifies itself) run real active checks whose result the test sets in a file, and
a contact whose real notification command logs ``node contact type host service state``
(tests/services/cluster.py). Nodes are created through the API as staff; the registry objects in
one transaction with one ``request_deployments`` (as the other real-core tests do: six API writes
would cost eighteen deploys). Everything after is through the API and the tasks: the status API
and the overview, acknowledgements, and ``registry.tasks.watch_nodes`` (the failover task), called
in the polling loops as beat would. Celery runs eagerly; the database commits for real.

Objects: m-host/m-svc (no poller: the active master's) and p-host/p-svc (in ``pollered``: the
poller's). Checks every 2 s, one attempt, one notification per problem; stale_after 10 s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.test import APIClient

from livestatus import overview
from livestatus.client import Filter, LivestatusClient, LivestatusQuery, Row
from livestatus.nodes import forget_clients, forget_clusters
from registry import deploy, tasks
from registry.models import (
    Command,
    Contact,
    Deployment,
    Host,
    HostGroup,
    HostTemplate,
    HostUse,
    NaemonNode,
    Service,
    ServiceTemplate,
    ServiceUse,
)
from tests.services.cluster import MASTERS, NODES, POLLER, Cluster, filter_path, poll, started_cluster, stays
from tests.services.nagios import nagios_available
from tests.services.required import require_service

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(420)]

OK, CRITICAL, UNKNOWN = 0, 2, 3
M_HOST, M_SVC = "m-host", "m-svc"
P_HOST, P_SVC = "p-host", "p-svc"
#: Every object: (host, service), "-" for the host itself.
OBJECTS = ((M_HOST, "-"), (M_HOST, M_SVC), (P_HOST, "-"), (P_HOST, P_SVC))
CHECKER = {M_HOST: "master-a", P_HOST: POLLER}
HOLDERS = {M_HOST: set(MASTERS), P_HOST: set(NODES)}
STALE_AFTER = 10


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    require_service(
        "Nagios 4", nagios_available(), "/usr/sbin/nagios4 is missing (Debian package nagios4-core)"
    )
    monkeypatch.setattr(deploy, "CONFIRM_TIMEOUT", 30.0)
    monkeypatch.setattr(deploy, "VERIFY_TIMEOUT", 30.0)
    forget_clients()  # the fronts' socket paths are new for every test
    forget_clusters()
    yield from started_cluster()
    forget_clients()
    forget_clusters()


@pytest.fixture
def site(cluster: Cluster, staff: User, api_client_for: Callable[[User | None], APIClient]) -> APIClient:
    """The three nodes (through the API) and the four objects, deployed and confirmed everywhere."""
    api = api_client_for(staff)
    for node, priority in (("master-a", 10), ("master-b", 20), (POLLER, 100)):
        body = cluster.node_fields(node, filter_path(cluster.cores[node])) | {
            "priority": priority,
            "notifies": True,
            "takeover": False,
            "stale_after": STALE_AFTER,
        }
        response = api.post("/api/v1/registry/nodes/", body, format="json")
        assert response.status_code == 202, response.content  # stored; its first deployment ran
    oncall = User.objects.create_user("oncall")
    check = cluster.dir / "check.sh"
    notify = cluster.dir / "notify.sh"
    with transaction.atomic():
        check_host = Command.objects.create(
            name="cluster-check-host", command_line=f"{check} $USER2$ $HOSTNAME$"
        )
        check_service = Command.objects.create(
            name="cluster-check-service", command_line=f"{check} $USER2$ $HOSTNAME$ $SERVICEDESC$"
        )
        notify_host = Command.objects.create(
            name="cluster-notify-host",
            channel="file",
            command_line=f"{notify} $USER2$ $CONTACTNAME$ $NOTIFICATIONTYPE$ $HOSTNAME$ - $HOSTSTATE$",
        )
        notify_service = Command.objects.create(
            name="cluster-notify-service",
            channel="file",
            command_line=f"{notify} $USER2$ $CONTACTNAME$ $NOTIFICATIONTYPE$ $HOSTNAME$ $SERVICEDESC$ $SERVICESTATE$",
        )
        contact = Contact.objects.create(name="oncall", user=oncall)
        contact.host_notification_commands.add(notify_host)
        contact.service_notification_commands.add(notify_service)
        host_template = HostTemplate.objects.create(
            name="cluster-host",
            check_command=check_host,
            max_check_attempts=1,
            check_interval=2,
            retry_interval=2,
            notification_interval=0,
        )
        service_template = ServiceTemplate.objects.create(
            name="cluster-service",
            check_command=check_service,
            max_check_attempts=1,  # the first CRITICAL is hard: it notifies
            check_interval=2,
            retry_interval=1,
            notification_interval=0,  # one notification per problem
            notification_options="w,u,c,r",
        )
        pollered = HostGroup.objects.create(name="pollered", node=NaemonNode.objects.get(name=POLLER))
        for host_name, description in ((M_HOST, M_SVC), (P_HOST, P_SVC)):
            host = Host.objects.create(name=host_name, address="127.0.0.1")
            if host_name == P_HOST:
                host.hostgroups.add(pollered)
            host.contacts.add(contact)
            HostUse.objects.create(host=host, template=host_template)
            service = Service.objects.create(host=host, description=description)
            ServiceUse.objects.create(service=service, template=service_template)
            service.contacts.add(contact)
        tasks.request_deployments(NaemonNode.objects.all(), triggered_by="test", reason="cluster e2e")
    for row in NaemonNode.objects.order_by("name"):
        latest = Deployment.objects.filter(node=row).latest("pk")
        assert latest.state == "confirmed", (
            row.name,
            latest.error,
            [line for line in latest.verify_output.splitlines() if "rror" in line or "arning" in line],
        )
    for node in NODES:
        holds = {M_HOST, P_HOST} if node in MASTERS else {P_HOST}
        assert cluster.cores[node].status().hosts == holds, node
    return api


# -- reading each node's own copy ---------------------------------------------------------------


def copy(cluster: Cluster, node: str, host: str, service: str = "-") -> Row:
    """The node's own copy of an object, through its Livestatus (not the portal's merge)."""
    with LivestatusClient(cluster.cores[node].front.address, keepalive=False) as client:
        if service == "-":
            query = LivestatusQuery("hosts").where(Filter("name", "=", host))
        else:
            query = LivestatusQuery("services").where(
                Filter("host_name", "=", host), Filter("description", "=", service)
            )
        columns = ("state", "plugin_output", "last_check", "active_checks_enabled", "acknowledged")
        rows = client.query(query.select(*columns))
    assert len(rows) == 1, (node, host, service, rows)
    return rows[0]


def runs_since(cluster: Cluster, mark: int) -> dict[tuple[str, str], set[str]]:
    """Per object, the nodes that ran its check since ``mark`` (an index into the check log)."""
    found: dict[tuple[str, str], set[str]] = {}
    for node, host, service in cluster.check_runs()[mark:]:
        found.setdefault((host, service), set()).add(node)
    return found


def sent(cluster: Cluster) -> Counter[tuple[str, str, str, str]]:
    """(contact, type, host, service) → how many notifications went out, from every node."""
    return Counter(
        (contact, kind, host, service) for _, contact, kind, host, service, _ in cluster.notifications()
    )


def watch() -> None:
    """One run of the failover task, as beat runs it."""
    tasks.watch_nodes()


# -- 1: one checker per object ------------------------------------------------------------------


def test_each_object_is_checked_by_exactly_one_node(cluster: Cluster, site: APIClient) -> None:
    mark = len(cluster.check_runs())

    def counts() -> Counter[tuple[str, str]]:
        return Counter((host, service) for _, host, service in cluster.check_runs()[mark:])

    try:
        # Services every 2 s; Nagios spreads host checks wider (its host check scheduling): once is enough.
        poll(
            "every service checked three times, every host once",
            lambda: all(counts()[obj] >= (1 if obj[1] == "-" else 3) for obj in OBJECTS),
            30,
        )
    except AssertionError as error:
        raise AssertionError(f"{error}; check runs: {dict(counts())}") from None
    assert runs_since(cluster, mark) == {obj: {CHECKER[obj[0]]} for obj in OBJECTS}

    # Through Livestatus: on exactly one holder active checks are on, and there last_check moves.
    for host, service in OBJECTS:
        copies = {node: copy(cluster, node, host, service) for node in HOLDERS[host]}
        active = {node for node, row in copies.items() if row["active_checks_enabled"]}
        assert active == {CHECKER[host]}, (host, service, copies)
        checker = CHECKER[host]
        before = copies[checker]["last_check"]
        poll(
            f"{host}/{service}'s last_check to advance on {checker}",
            lambda h=host, s=service, n=checker, b=before: copy(cluster, n, h, s)["last_check"] > b,
            # Nagios 4 schedules host checks less tightly than service checks (a loaded machine too).
            timeout=15 if service != "-" else 45,
        )
    assert cluster.notifications() == []  # everything is OK: nobody was told anything


# -- 2, 3, 4: exactly-once notifications, results on every copy, acknowledgements, counts --------


def test_one_problem_and_one_recovery_per_contact_and_every_copy_agrees(
    cluster: Cluster, site: APIClient
) -> None:
    api = site
    cluster.set_check(P_HOST, P_SVC, CRITICAL, "CRITICAL - poller says no")
    cluster.set_check(M_HOST, M_SVC, CRITICAL, "CRITICAL - master says no")
    problems = {("oncall", "PROBLEM", P_HOST, P_SVC): 1, ("oncall", "PROBLEM", M_HOST, M_SVC): 1}
    poll("both PROBLEMs", lambda: all(sent(cluster)[key] >= 1 for key in problems), timeout=30)

    # The masters show the poller's result within a few seconds: its state and its output.
    poll(
        "the masters' copies of p-svc to show the poller's CRITICAL",
        lambda: all(
            (copy(cluster, node, P_HOST, P_SVC)["state"], copy(cluster, node, P_HOST, P_SVC)["plugin_output"])
            == (CRITICAL, "CRITICAL - poller says no")
            for node in MASTERS
        ),
        timeout=10,
    )
    poll(
        "master-b's copy of m-svc to show master-a's CRITICAL",
        lambda: copy(cluster, "master-b", M_HOST, M_SVC)["plugin_output"] == "CRITICAL - master says no",
        timeout=10,
    )

    # 4: the overview and the status API count each object once.
    picture = overview.compute()
    assert picture["hosts"]["total"] == 2, picture["hosts"]
    assert (picture["services"]["total"], picture["services"]["critical"]) == (2, 2), picture["services"]
    listed = api.get("/api/v1/livestatus/services/")
    assert listed.status_code == 200, listed.content
    rows = listed.json()["results"]
    assert sorted((r["host"], r["service"]) for r in rows) == [(M_HOST, M_SVC), (P_HOST, P_SVC)], rows

    # 3: an acknowledgement through the API reaches every holder.
    for host, service in ((P_HOST, P_SVC), (M_HOST, M_SVC)):
        response = api.post(
            "/api/v1/livestatus/actions/acknowledge/",
            {"host": host, "service": service, "comment": "on it", "notify": False},
            format="json",
        )
        assert response.status_code == 201, response.content
    for host, service in ((P_HOST, P_SVC), (M_HOST, M_SVC)):
        poll(
            f"every holder of {host}/{service} to show it acknowledged",
            lambda h=host, s=service: all(copy(cluster, n, h, s)["acknowledged"] for n in HOLDERS[h]),
            timeout=15,
        )

    cluster.set_check(P_HOST, P_SVC, OK, "OK - poller is happy")
    cluster.set_check(M_HOST, M_SVC, OK, "OK - master is happy")
    recoveries = {("oncall", "RECOVERY", P_HOST, P_SVC): 1, ("oncall", "RECOVERY", M_HOST, M_SVC): 1}
    poll("both RECOVERYs", lambda: all(sent(cluster)[key] >= 1 for key in recoveries), timeout=30)
    poll(
        "every copy to be OK again",
        lambda: all(copy(cluster, n, h, s)["state"] == OK for h, s in OBJECTS for n in HOLDERS[h]),
        timeout=15,
    )
    # A duplicate from another node would come within a check or two of the original.
    stays(
        f"exactly one PROBLEM and one RECOVERY per contact, got {cluster.notifications()}",
        lambda: sent(cluster) == Counter(problems | recoveries),
        seconds=5,
    )


# -- 5: a master dies, a surviving master takes over; it comes back ------------------------------


def test_a_killed_master_is_replaced_and_takes_its_share_back(cluster: Cluster, site: APIClient) -> None:
    checker, survivor = "master-a", "master-b"
    mark = len(cluster.check_runs())
    poll("master-a to check m-svc", lambda: runs_since(cluster, mark).get((M_HOST, M_SVC)) == {checker}, 15)

    cluster.cores[checker].kill()
    killed_at = len(cluster.check_runs())
    poll(
        f"{survivor} to check m-svc",
        lambda: survivor in runs_since(cluster, killed_at).get((M_HOST, M_SVC), set()),
        timeout=120,
        interval=1,
        each=watch,
    )
    assert copy(cluster, survivor, M_HOST, M_SVC)["active_checks_enabled"]
    # The poller's share did not move.
    assert runs_since(cluster, killed_at).get((P_HOST, P_SVC)) == {POLLER}

    cluster.set_check(M_HOST, M_SVC, CRITICAL, "CRITICAL - while master-a is away")
    key = ("oncall", "PROBLEM", M_HOST, M_SVC)
    poll("the PROBLEM of m-svc", lambda: sent(cluster)[key] >= 1, timeout=30)
    stays(f"one PROBLEM, got {cluster.notifications()}", lambda: sent(cluster)[key] == 1, seconds=4)

    cluster.cores[checker].start()
    back = len(cluster.check_runs())

    def master_a_checks_again() -> bool:
        recent = [node for node, h, s in cluster.check_runs()[back:] if (h, s) == (M_HOST, M_SVC)]
        return len(recent) >= 3 and set(recent[-3:]) == {checker}

    poll("master-a to check m-svc again, alone", master_a_checks_again, timeout=120, interval=1, each=watch)
    assert not copy(cluster, survivor, M_HOST, M_SVC)["active_checks_enabled"]
    stays(f"still one PROBLEM, got {cluster.notifications()}", lambda: sent(cluster)[key] == 1, seconds=4)
    assert [n for n in cluster.notifications() if n[2] == "PROBLEM"] and all(
        n[3:5] == (M_HOST, M_SVC) for n in cluster.notifications()
    ), cluster.notifications()


# -- 6: the poller dies: its objects turn UNKNOWN on the masters, naming it ----------------------


def test_a_dead_pollers_objects_turn_unknown_on_the_masters(cluster: Cluster, site: APIClient) -> None:
    poll(
        "the masters to hold the poller's OK",
        lambda: all(copy(cluster, n, P_HOST, P_SVC)["last_check"] > 0 for n in MASTERS),
        timeout=15,
    )
    cluster.cores[POLLER].kill()

    def unknown_naming_the_poller() -> bool:
        rows = [copy(cluster, node, P_HOST, P_SVC) for node in MASTERS]
        return all(row["state"] == UNKNOWN and POLLER in row["plugin_output"] for row in rows)

    poll(
        "p-svc UNKNOWN on both masters, naming poller-1",
        unknown_naming_the_poller,
        120,
        interval=1,
        each=watch,
    )
    # Nobody took the checks over (takeover is off): the masters never ran p-svc's check.
    assert not any(node != POLLER for node, h, s in cluster.check_runs() if h == P_HOST)
