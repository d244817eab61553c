"""Query many Livestatus nodes at once and merge their answers.

Each node is asked in parallel (a thread per node, each with its own
kept-alive connection). Rows come back tagged with their node under ``_node``;
stats are added up across nodes (per group for grouped stats); a node that
fails is listed with its error in ``MultiResult.unreachable`` and the others'
rows are still returned. Commands go to the one node you name.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from livestatus.client.commands import Command
from livestatus.client.connection import Address, LivestatusClient
from livestatus.client.errors import LivestatusError, UnsupportedQueryError
from livestatus.client.query import LivestatusQuery
from livestatus.client.rows import Row, sort_and_page

#: The key under which each row carries the name of the node it came from.
NODE_KEY = "_node"

# How one stats column of several nodes becomes one value. Averages and
# deviations cannot be combined without the row counts, so they are refused.
_MERGE: dict[str, Callable[[Any, Any], Any]] = {
    "count": lambda a, b: a + b,
    "sum": lambda a, b: a + b,
    "suminv": lambda a, b: a + b,
    "min": min,
    "max": max,
}


@dataclass(frozen=True)
class NodeError:
    """A node that did not answer, and why."""

    node: str
    error: LivestatusError

    @property
    def retryable(self) -> bool:
        """Whether asking this node again later may work."""
        return self.error.retryable


@dataclass
class MultiResult:
    """Merged rows, the raw rows per node, and the nodes that failed."""

    rows: list[Row]
    per_node: dict[str, list[Row]] = field(default_factory=dict)
    unreachable: list[NodeError] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every node answered."""
        return not self.unreachable


def _freeze(value: Any) -> Any:
    # Group keys may be lists (e.g. grouping by a list column): make them hashable.
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def merge_stats(query: LivestatusQuery, per_node: Mapping[str, list[Row]]) -> list[Row]:
    """Combine stats rows of several nodes: per group key, add counts and sums, min of mins..."""
    merged: dict[tuple[Any, ...], Row] = {}
    for rows in per_node.values():
        for row in rows:
            key = tuple(_freeze(row.get(column)) for column in query.columns)
            target = merged.get(key)
            if target is None:
                merged[key] = {name: value for name, value in row.items() if name != NODE_KEY}
                continue
            for stat in query.stats_columns:
                mine, theirs = target.get(stat.name), row.get(stat.name)
                if theirs is None:
                    continue
                target[stat.name] = theirs if mine is None else _MERGE[stat.function](mine, theirs)
    return list(merged.values())


class LivestatusCluster:
    """Clients for a set of named nodes, asked together.

    >>> cluster = LivestatusCluster([("master", "unix:/run/naemon/live"),
    ...                              ("poller1", "tcp:10.0.0.5:6557")])
    >>> result = cluster.query(LivestatusQuery("services").select("description", "state"))
    >>> result.rows[0]["_node"], [e.node for e in result.unreachable]
    """

    def __init__(
        self,
        nodes: Iterable[tuple[str, str | Address]] | Mapping[str, str | Address],
        *,
        connect_timeout: float = 3.0,
        timeout: float = 10.0,
        retry_window: float = 2.0,
        max_workers: int | None = None,
        client_factory: Callable[[str | Address], LivestatusClient] | None = None,
    ) -> None:
        pairs = list(nodes.items() if isinstance(nodes, Mapping) else nodes)
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"node names must be unique: {names}")

        def default_factory(address: str | Address) -> LivestatusClient:
            return LivestatusClient(
                address,
                connect_timeout=connect_timeout,
                timeout=timeout,
                retry_window=retry_window,
            )

        factory = client_factory or default_factory
        self.clients: dict[str, LivestatusClient] = {name: factory(address) for name, address in pairs}
        self._max_workers = max_workers or max(1, min(32, len(pairs)))
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def __enter__(self) -> LivestatusCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every node's connection and stop the worker threads."""
        for client in self.clients.values():
            client.close()
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def client(self, node: str) -> LivestatusClient:
        """The client of one node (KeyError with the known names if there is none)."""
        try:
            return self.clients[node]
        except KeyError:
            raise KeyError(f"no Livestatus node {node!r}; known: {sorted(self.clients)}") from None

    def command(self, node: str, command: Command) -> None:
        """Send a command to the node that owns the object."""
        self.client(node).command(command)

    def status(self) -> MultiResult:
        """``GET status`` of every node, one row each, tagged with ``_node``."""
        per_node, failed = self._ask_all(lambda node, client: [client.status()])
        rows = [{**row, NODE_KEY: node} for node, node_rows in per_node.items() for row in node_rows]
        return MultiResult(rows=rows, per_node=per_node, unreachable=failed)

    def query(self, query: LivestatusQuery) -> MultiResult:
        """Ask every node; merge rows (tagged ``_node``) or stats (summed per group)."""
        if query.is_stats and len(self.clients) > 1:
            for stat in query.stats_columns:
                if stat.function not in _MERGE:
                    raise UnsupportedQueryError(
                        f"stats {stat.name!r} ({stat.function}) cannot be merged across nodes; "
                        "ask each node's client instead"
                    )
        # Paging applies to the merged rows: each node returns its first
        # offset+limit rows (in sort order), the merge sorts again and slices.
        paged = (
            bool(query.sort_keys)
            or query.offset_rows is not None
            or (query.limit_rows is not None and len(self.clients) > 1)
        )
        per_node_query = query
        if paged:
            missing = [c for c, _ in query.sort_keys if query.columns and c not in query.columns]
            if missing:
                raise UnsupportedQueryError(
                    f"sort columns {missing} must be selected to sort rows of several nodes"
                )
            top = None if query.limit_rows is None else query.limit_rows + (query.offset_rows or 0)
            per_node_query = dataclasses.replace(query, offset_rows=None, limit_rows=top)

        def ask(node: str, client: LivestatusClient) -> list[Row]:
            # Tagged on the node's own thread: done while the slowest node is still late.
            rows = client.query(per_node_query)
            for row in rows:
                row[NODE_KEY] = node
            return rows

        per_node, failed = self._ask_all(ask)
        if query.is_stats:
            rows = merge_stats(query, per_node)
        else:
            rows = [row for node_rows in per_node.values() for row in node_rows]
        if paged:
            rows = sort_and_page(query, rows)
        return MultiResult(rows=rows, per_node=per_node, unreachable=failed)

    def _ask_all(
        self, ask: Callable[[str, LivestatusClient], list[Row]]
    ) -> tuple[dict[str, list[Row]], list[NodeError]]:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._max_workers, thread_name_prefix="livestatus"
                )
            executor = self._executor
        futures = {node: executor.submit(ask, node, client) for node, client in self.clients.items()}
        per_node: dict[str, list[Row]] = {}
        failed: list[NodeError] = []
        for node, future in futures.items():  # node order, whatever finishes first
            try:
                per_node[node] = future.result()
            except LivestatusError as exc:
                failed.append(NodeError(node, exc))
        return per_node, failed
