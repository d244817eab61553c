"""A node's config versions on disk: the versions directory, the symlink swap, the manifests.

``config_dir`` is a symlink to ``<config_dir>.versions/<deployment id>``. A new version is
written there (``write_version``: the rendered files and ``.portal-manifest.json``, the
content hash and a CRC per host and service) and swapped in by ``point``, an ``os.replace``
of a new symlink, which is atomic: the core sees either the old or the new directory, never a
mix. An existing real directory is adopted once (moved to ``versions/initial``); ``prune``
deletes all but the versions kept for rollback. ``staged_main_config`` is the node's main
config rewritten to verify a staged version before it is swapped in.

No database here: registry/deploy.py runs the pipeline and records it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from registry import runner
from registry.models import NaemonNode
from registry.render import FILES, INPUT_DIGEST_SIZE, Rendered, StanzaCache, streamed_hash

MANIFEST = ".portal-manifest.json"
#: The input digest of every host and service block of a version (render.stanza_input), hosts
#: first, each in file order: binary, so a million of them do not bloat the JSON manifest.
STANZAS = ".portal-stanzas"

ServiceCheck = tuple[str, str]  # (host name, service description): a service as the core lists it


def versions_dir(node: NaemonNode) -> Path:
    """Where the node's config versions, the staged one and the lock file live (a sibling of config_dir)."""
    return Path(node.config_dir.rstrip("/") + ".versions")


def live_version(node: NaemonNode) -> Path | None:
    """The version directory config_dir points at (None: no symlink yet)."""
    link = Path(node.config_dir)
    if not link.is_symlink():
        return None
    return (link.parent / os.readlink(link)).resolve()


def read_manifest(directory: Path | None) -> dict[str, Any]:
    """A version's manifest ({} when there is none or it is unreadable)."""
    if directory is None:
        return {}
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def content_hash_on_disk(directory: Path) -> str | None:
    """The content hash of the config files as they are in ``directory`` now (None: a file is missing).

    The same digest as the renderer's ``Rendered.content_hash`` (registry/render.py), over the
    files as read back: it differs from the manifest's after a hand edit (registry/drift.py).
    """
    # A piece at a time: a big node's files are hundreds of MB. Each size is that of the file
    # opened, the one that is read.
    try:
        with ExitStack() as stack:
            handles = [stack.enter_context((directory / name).open("rb")) for name in FILES]
            return streamed_hash((os.fstat(f.fileno()).st_size, _pieces(f)) for f in handles)
    except OSError:
        return None


def _pieces(handle: BinaryIO) -> Iterator[bytes]:
    while piece := handle.read(1 << 20):
        yield piece


def _blocks(text: str) -> list[str]:
    """The define blocks of a rendered file (a header line, then blocks apart by one empty line)."""
    _header, sep, body = text.partition("\n\n")
    if not sep or not body:
        return []
    # A block has no empty line inside (one directive per line) and ends with "}\n".
    parts = body.split("}\n\n")
    return [part + "}\n" for part in parts[:-1]] + [parts[-1]]


def stanza_cache(directory: Path | None) -> StanzaCache:
    """The blocks of a version's hosts and services by input digest, for the next render to reuse.

    Empty when anything does not add up: no manifest or digests (older versions), files that
    differ from what was rendered (a hand edit must not be carried into the next version), or
    block counts that do not match the digests.
    """
    manifest = read_manifest(directory)
    counts = manifest.get("stanzas")
    if directory is None or not isinstance(counts, list) or len(counts) != 2:
        return {}
    try:
        digests = (directory / STANZAS).read_bytes()
    except OSError:
        return {}
    hosts, services = counts
    if len(digests) != (hosts + services) * INPUT_DIGEST_SIZE or (
        content_hash_on_disk(directory) != manifest.get("content_hash")
    ):
        return {}
    cache: StanzaCache = {}
    offset = 0
    for name, count in (("hosts.cfg", hosts), ("services.cfg", services)):
        try:
            blocks = _blocks((directory / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return {}
        # The renderer's placeholder may follow the registry's blocks; nothing else may.
        if len(blocks) not in (count, count + 1):
            return {}
        for block in blocks[:count]:
            cache[digests[offset : offset + INPUT_DIGEST_SIZE]] = block
            offset += INPUT_DIGEST_SIZE
    return cache


def foreign_files(directory: Path) -> list[str]:
    """Config files in a version that the portal did not write (the core reads every ``*.cfg``)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(".cfg") and n not in FILES)


def point(config_dir: Path, target: Path) -> None:
    """Atomically make config_dir a symlink to target (rename(2) of a new link over the old)."""
    tmp = config_dir.parent / f".{config_dir.name}.swap-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(target, config_dir.parent), tmp)
    os.replace(tmp, config_dir)


def adopt(node: NaemonNode) -> None:
    """First deploy onto an existing real directory: move it into versions/ and link to it."""
    config_dir = Path(node.config_dir)
    if config_dir.is_symlink() or not config_dir.exists():
        return
    target = versions_dir(node) / "initial"
    n = 0
    while target.exists():
        n += 1
        target = versions_dir(node) / f"initial-{n}"
    os.rename(config_dir, target)
    point(config_dir, target)


def prune(node: NaemonNode, keep: Iterable[Path | None]) -> None:
    """Delete every version directory of the node but ``keep``, and stale verify copies."""
    keep_set = {p.resolve() for p in keep if p is not None}
    for entry in versions_dir(node).iterdir():
        if entry.is_dir() and not entry.is_symlink() and entry.resolve() not in keep_set:
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith("verify-") and entry.suffix == ".cfg":
            # A verify copy a killed run left behind (a live run removes its own when it ends).
            entry.unlink(missing_ok=True)


def write_version(
    directory: Path, rendered: Rendered, deployment_id: int, services: set[ServiceCheck]
) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(mode=0o755, parents=True)
    # Readable by the core's user (the worker may run as someone else).
    directory.chmod(0o755)
    for name in FILES:
        path = directory / name
        # A piece at a time: a big node's files are never one string in memory.
        with path.open("wb") as out:
            out.writelines(rendered.chunks(name))
        path.chmod(0o644)
    manifest = {
        "content_hash": rendered.content_hash,
        "deployment": deployment_id,
        "hosts": rendered.hosts,
        "services": rendered.services,
        # What the core lists (services on host groups expanded): what the next deploy checks is gone.
        "host_services": by_host(services),
        "stanzas": [len(rendered.host_inputs), len(rendered.service_inputs)],
    }
    stanzas = directory / STANZAS
    stanzas.write_bytes(b"".join([*rendered.host_inputs, *rendered.service_inputs]))
    stanzas.chmod(0o644)
    (directory / MANIFEST).write_text(json.dumps(manifest, separators=(",", ":")), encoding="utf-8")


def by_host(services: set[ServiceCheck]) -> dict[str, list[str]]:
    """Services as the manifest records them: host name -> descriptions, sorted."""
    by_host: dict[str, list[str]] = {}
    for host, description in sorted(services):
        by_host.setdefault(host, []).append(description)
    return by_host


def manifest_services(manifest: dict[str, Any]) -> set[ServiceCheck]:
    """The expanded services a version's manifest records (empty for manifests written before it did)."""
    by_host = manifest.get("host_services")
    if not isinstance(by_host, dict):
        return set()
    return {(host, d) for host, descriptions in by_host.items() for d in descriptions or ()}


# Main-config directives whose value is a file or directory that Naemon resolves against the
# main config's directory (src/naemon/configuration.c: ``nspath_absolute(value,
# config_file_dir)``); Nagios 4 does the same for the ones it knows. Included files
# (include_file, include_dir) are read with the same base: the main config's directory, not
# their own. broker_module: only its first word is a path; temp_file: only when it starts
# with '.' (otherwise it is relative to temp_path). config_rel_path (newer Naemon) moves the
# base of the paths after it.
_PATH_DIRECTIVES = frozenset(
    {
        "cfg_file", "cfg_dir", "resource_file", "include_file", "include_dir", "log_file",
        "debug_file", "command_file", "query_socket", "temp_path", "check_result_path", "lock_file",
        "log_archive_path", "status_file", "state_retention_file", "object_cache_file",
        "precached_object_file", "host_perfdata_file", "service_perfdata_file", "config_rel_path",
    }
)  # fmt: skip


def _absolute(value: str, base: str) -> str:
    # nspath_absolute: an absolute path as it is, a relative one joined to the base, lexically.
    return os.path.normpath(value if os.path.isabs(value) else os.path.join(base, value))


@dataclass
class _Staging:
    """What rewriting a main config (and the files it includes) for the staged copy needs."""

    config_dir: str
    staged: Path
    includes: Path
    base: str
    included: bool = False
    copies: dict[str, Path] = field(default_factory=dict)

    def rewrite(self, text: str, source: Path) -> str:
        """The lines of one main-config file with every path made absolute as Naemon resolves it."""
        lines = []
        for line in text.split("\n"):
            stripped = line.strip()
            key, sep, value = stripped.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or stripped.startswith("#") or not value:
                lines.append(line)
            elif key in _PATH_DIRECTIVES:
                lines.append(self._line(key, _absolute(value, self.base), source))
            elif key == "broker_module":
                module, space, args = value.partition(" ")
                lines.append(f"{key}={_absolute(module, self.base)}{space}{args}")
            elif key == "temp_file" and value.startswith("."):
                lines.append(f"{key}={_absolute(value, self.base)}")
            else:
                lines.append(line)
        return "\n".join(lines)

    def _line(self, key: str, path: str, source: Path) -> str:
        """The directive's line(s) for the copy; ``path`` is the absolute path Naemon would use."""
        if key == "config_rel_path":
            self.base = path
        elif key in ("cfg_file", "cfg_dir"):
            if path == self.config_dir or path.startswith(self.config_dir + "/"):
                self.included = True
                return f"{key}={self.staged}{path[len(self.config_dir) :]}"
            if key == "cfg_dir" and self.config_dir.startswith(path.rstrip("/") + "/"):
                raise runner.RunnerError(
                    f"config_dir {self.config_dir} is inside cfg_dir {path} of {source}: the core would "
                    "read every version; give the portal a cfg_dir of its own",
                    retryable=False,
                )
        elif key == "include_file":
            return f"{key}={self._include(path)}"
        elif key == "include_dir":
            try:
                # os.listdir is readdir(3) order, the order Naemon reads the directory in.
                names = [n for n in os.listdir(path) if not n.startswith(".") and n.endswith(".cfg")]
            except OSError:
                return f"{key}={path}"  # Naemon's verifier reports it as it would for the original
            # Each file of the directory as an include_file of its rewritten copy, in Naemon's order.
            return "\n".join(f"include_file={self._include(os.path.join(path, n))}" for n in names)
        return f"{key}={path}"

    def _include(self, path: str) -> str:
        """A rewritten copy of an included file (its relative paths resolve as in the original)."""
        if path in self.copies:  # included twice: the same copy, so Naemon reports it as it would
            return str(self.copies[path])
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            return path
        copy = self.includes / path.lstrip("/")
        self.copies[path] = copy
        rewritten = self.rewrite(text, Path(path))
        copy.parent.mkdir(parents=True, exist_ok=True)
        # Readable by the core's user (the worker may run as someone else), whatever the umask.
        for directory in (copy.parent, *copy.parent.parents):
            if not directory.is_relative_to(self.includes):
                break
            directory.chmod(0o755)
        copy.write_text(rewritten, encoding="utf-8", errors="surrogateescape")
        copy.chmod(0o644)
        return str(copy)


def staged_includes(staged: Path) -> Path:
    """Where the rewritten copies of the files the main config includes go for verifying ``staged``."""
    return staged.parent / f"verify-{staged.name}.d"


def staged_main_config(node: NaemonNode, staged: Path) -> str:
    """The node's main config for verifying ``staged``: its paths resolved as for the original.

    The copy lives in the versions directory, not beside the original, so every relative path
    is made absolute against the original's directory, the line(s) that include config_dir
    point at the staged version, and the files it includes are rewritten the same way into
    ``staged_includes(staged)`` (Naemon resolves their relative paths against the main config's
    directory too).
    """
    config_dir = os.path.normpath(node.config_dir)
    if not node.main_config:
        return f"cfg_dir={staged}\n"
    main = Path(node.main_config)
    try:
        text = main.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise runner.RunnerError(f"cannot read main config {main}: {exc.strerror}", retryable=False) from None
    staging = _Staging(
        config_dir=config_dir, staged=staged, includes=staged_includes(staged), base=str(main.parent)
    )
    result = staging.rewrite(text, main)
    if not staging.included:
        raise runner.RunnerError(
            f"main config {main} has no cfg_dir={config_dir}: the core would never read the portal's config",
            retryable=False,
        )
    return result
