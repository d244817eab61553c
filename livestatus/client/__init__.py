"""The Livestatus library: one node (``connection``), many nodes (``cluster``), queries and commands.

Plain Python, no Django and nothing of the portal's apps: it runs in web workers, in Celery
workers on Naemon nodes, in the benchmarks and in tests alike. This folder is the boundary;
callers import what they use from here:

- ``LivestatusClient`` and ``Address`` (``connection``), rows as Python values from Naemon
  and Icinga 2 alike (``rows``);
- ``LivestatusQuery`` and its filters (``query``);
- ``commands`` (the external commands, built safely), ``errors``;
- ``LivestatusCluster``, ``merge_stats``, ``NODE_KEY`` (``cluster``);
- ``text``: the one rule for which characters a name or a line of text may hold.
"""

from livestatus.client import commands, errors, text
from livestatus.client.cluster import NODE_KEY, LivestatusCluster, MultiResult, NodeError, merge_stats
from livestatus.client.commands import Command
from livestatus.client.connection import Address, LivestatusClient
from livestatus.client.errors import (
    LivestatusBadResponse,
    LivestatusCommandError,
    LivestatusConnectError,
    LivestatusConnectionClosed,
    LivestatusError,
    LivestatusQueryError,
    LivestatusTimeout,
    UnknownColumnError,
    UnsafeValueError,
    UnsupportedQueryError,
)
from livestatus.client.query import Aggregate, And, Expr, Filter, LivestatusQuery, Not, Or, Wait, check_value
from livestatus.client.rows import DIALECTS, Dialect, Row, detect_dialect

__all__ = [
    "DIALECTS",
    "NODE_KEY",
    "Address",
    "Aggregate",
    "And",
    "Command",
    "Dialect",
    "Expr",
    "Filter",
    "LivestatusBadResponse",
    "LivestatusClient",
    "LivestatusCluster",
    "LivestatusCommandError",
    "LivestatusConnectError",
    "LivestatusConnectionClosed",
    "LivestatusError",
    "LivestatusQuery",
    "LivestatusQueryError",
    "LivestatusTimeout",
    "MultiResult",
    "NodeError",
    "Not",
    "Or",
    "Row",
    "UnknownColumnError",
    "UnsafeValueError",
    "UnsupportedQueryError",
    "Wait",
    "check_value",
    "commands",
    "detect_dialect",
    "errors",
    "merge_stats",
    "text",
]
