"""Naemon Livestatus's column catalogue, as `GET columns` answers (naemon-livestatus master, commit c2aa4e41120471d5a99f8a7f6ad6c7f42da79f9e, src/Table*.cc). Used by the test stand-in servers: Naemon silently answers unknown columns with empty values, so the stand-ins must know the real set.

The catalogue itself is data, one ``table<TAB>column<TAB>type`` line each, in
naemon_columns.tsv beside this module (in Naemon's answer order); the notes below say how it
was read.
"""

# Read from the newest stored version of each file: c2aa4e41120471d5a99f8a7f6ad6c7f42da79f9e for
# Store.cc, Table.cc, TableHosts.cc, TableServices.cc, TableHostgroups.cc, TableContacts.cc,
# TableStatus.cc, TableStateHistory.cc, TableDownComm.cc and most Column headers; the files that
# commit did not touch at dc45e8f64c0011768c0b3660b492b77bff34246d (TableLog.cc,
# TableServicegroups.cc, TableContactgroups.cc, TableCommands.cc, TableTimeperiods.cc,
# TableColumns.cc). There is no TableDowntimes.cc / TableComments.cc: both tables are
# TableDownComm.
#
# How the tables are put together (Store.cc, Table*.cc):
# - hostsbygroup = the hosts columns + TableHostgroups' columns with prefix "hostgroup_".
# - services = TableServices' columns + TableHosts' columns with prefix "host_".
#   servicesbygroup = the same + TableServicegroups' columns with prefix "servicegroup_";
#   servicesbyhostgroup = the same + TableHostgroups' columns with prefix "hostgroup_".
# - downtimes / comments = their own columns + "host_" (TableHosts) + "service_" (TableServices,
#   without its host_ columns).
# - log = its own columns + "current_host_", "current_service_", "current_contact_",
#   "current_command_"; statehist = its own columns + "current_host_", "current_service_".
# - Table::addColumn keeps the first column of a name: TableServices adds last_state_change
#   twice, so it is listed once (as services' last_state_change, service_last_state_change, ...).
# Naemon also resolves some names that are not columns and so are not listed here (Table::column):
# a column under the table's prefixname ("service_state" in services, "host_name" in
# hostsbygroup, "log_time" in log) and, in log and statehist, a current_ column without
# "current_" ("host_alias" -> current_host_alias).
#
# Types are what TableColumns::getValue() prints for Column::type() (typenames: int, float,
# string, list, time, dict). TimeColumn::type() returns COLTYPE_INT, so every timestamp
# (last_check, time, entry_time, program_start, ...) is reported as "int": Naemon reports no
# "time" column and has no "blob" type. AttributelistColumn is "int" for modified_attributes and
# "list" for modified_attributes_list; CustomVarsColumn is "dict" for custom_variables and "list"
# for custom_variable_names/values; GlobalCountersColumn is "float" for the *_rate columns.
# Tables and columns are in Naemon's answer order (std::map: sorted by name).

from pathlib import Path

_CATALOGUE = Path(__file__).with_name("naemon_columns.tsv")


def _load() -> dict[str, tuple[tuple[str, str], ...]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for line in _CATALOGUE.read_text(encoding="ascii").splitlines():
        table, column, kind = line.split("\t")
        tables.setdefault(table, []).append((column, kind))
    return {table: tuple(columns) for table, columns in tables.items()}


NAEMON_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = _load()
