"""The on-node snapshot: write, read, swap atomically, detect damage."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from preferences import engine, rulebook, snapshot

CONTACTS: dict[str, dict[str, object]] = {
    "alice": {
        "rules": [{"id": 1, "action": "suppress", "states": ["WARNING"]}],
        "default": "notify",
        "timezone": "Europe/Paris",
    },
    "bob": {"rules": [], "default": "suppress"},
}


def contact_file(directory: Path, name: str) -> Path:
    return directory / "current" / "contacts" / snapshot.contact_filename(name)


def test_round_trip(tmp_path: Path) -> None:
    snapshot.write_snapshot(tmp_path, CONTACTS, generated_at=1_700_000_000.0)

    alice = snapshot.read_contact(tmp_path, "alice")
    assert alice == rulebook.compile_contact(
        CONTACTS["alice"]["rules"],  # type: ignore[arg-type]
        default="notify",
        timezone="Europe/Paris",
    )
    bob = snapshot.read_contact(tmp_path, "bob")
    assert bob is not None
    assert bob["default_notify"] is False
    assert bob["timezone"] == "UTC"

    manifest = snapshot.read_manifest(tmp_path)
    assert manifest["format"] == snapshot.SNAPSHOT_FORMAT
    assert manifest["contacts"] == 2
    assert manifest["generated_at"] == "2023-11-14T22:13:20Z"
    assert snapshot.generated_at(tmp_path) == 1_700_000_000.0


def test_unknown_contact_in_a_complete_snapshot(tmp_path: Path) -> None:
    snapshot.write_snapshot(tmp_path, CONTACTS)
    assert snapshot.read_contact(tmp_path, "carol") is None


def test_empty_snapshot_is_complete(tmp_path: Path) -> None:
    snapshot.write_snapshot(tmp_path, {})
    assert snapshot.read_contact(tmp_path, "alice") is None


def test_missing_snapshot(tmp_path: Path) -> None:
    with pytest.raises(snapshot.SnapshotMissing):
        snapshot.read_contact(tmp_path, "alice")
    with pytest.raises(snapshot.SnapshotMissing):
        snapshot.read_contact(tmp_path / "nowhere", "alice")
    with pytest.raises(snapshot.SnapshotMissing):
        snapshot.generated_at(tmp_path)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[:-3], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[:10] + bytes([data[10] ^ 1]) + data[11:], id="bit-flip"),
        pytest.param(lambda data: b"XXXX" + data[4:], id="other-magic"),
        pytest.param(lambda data: b"{}", id="json"),
    ],
)
def test_damaged_contact_file(tmp_path: Path, damage: object) -> None:
    snapshot.write_snapshot(tmp_path, CONTACTS)
    path = contact_file(tmp_path, "alice")
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(snapshot.SnapshotCorrupt, match="corrupt snapshot file"):
        snapshot.read_contact(tmp_path, "alice")


def test_well_framed_but_wrong_content(tmp_path: Path) -> None:
    snapshot.write_snapshot(tmp_path, CONTACTS)
    contact_file(tmp_path, "alice").write_bytes(snapshot.pack([1, 2], b"NPC1"))
    with pytest.raises(snapshot.SnapshotCorrupt, match="not a compiled contact"):
        snapshot.read_contact(tmp_path, "alice")


def test_invalid_preferences_write_nothing(tmp_path: Path) -> None:
    bad: dict[str, dict[str, object]] = {
        **CONTACTS,
        "carol": {"rules": [{"action": "notify", "states": ["CRIT"]}]},
    }
    with pytest.raises(engine.RuleError) as caught:
        snapshot.write_snapshot(tmp_path, bad)
    assert caught.value.field == "carol.rules[0].states"
    assert "unknown value 'CRIT'" in str(caught.value)
    assert not (tmp_path / "current").exists()

    with pytest.raises(engine.RuleError, match=r"bob\.defaults: unknown field"):
        snapshot.write_snapshot(tmp_path, {"bob": {"defaults": "notify"}})
    with pytest.raises(engine.RuleError, match=r"bob\.rules: expected a list"):
        snapshot.write_snapshot(tmp_path, {"bob": {"rules": "all"}})


def test_new_snapshot_replaces_the_old_and_keeps_one_previous(tmp_path: Path) -> None:
    generations = [
        snapshot.write_snapshot(tmp_path, {"alice": {"rules": [], "default": default}})
        for default in ("notify", "suppress", "notify", "suppress")
    ]
    assert os.readlink(tmp_path / "current") == os.path.basename(generations[-1])
    kept = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("gen-"))
    assert kept == sorted(os.path.basename(g) for g in generations[-2:])
    alice = snapshot.read_contact(tmp_path, "alice")
    assert alice is not None
    assert alice["default_notify"] is False
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".current-")]


def test_files_are_readable_by_another_user(tmp_path: Path) -> None:
    generation = Path(snapshot.write_snapshot(tmp_path, CONTACTS))
    assert generation.stat().st_mode & 0o055 == 0o055
    assert contact_file(tmp_path, "alice").stat().st_mode & 0o044 == 0o044


def test_readers_never_see_a_half_written_snapshot(tmp_path: Path) -> None:
    """While a writer swaps snapshots, every read finds a complete one, old or new."""
    many = {f"user{i}": {"rules": [{"id": i, "action": "notify"}]} for i in range(200)}
    snapshot.write_snapshot(tmp_path, many)
    done = threading.Event()
    failures: list[BaseException] = []
    reads = 0

    def write() -> None:
        try:
            for _ in range(15):
                snapshot.write_snapshot(tmp_path, many)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set() or reads < 100:
        try:
            for name in ("user0", "user199"):
                contact = snapshot.read_contact(tmp_path, name)
                assert contact is not None, name
            snapshot.generated_at(tmp_path)
        except (AssertionError, snapshot.SnapshotError) as exc:
            failures.append(exc)
        reads += 1
    writer.join()
    assert not failures


@pytest.mark.parametrize(
    "name",
    ["alice", "../../etc/passwd", "a/b", ".", "..", "Jörg Müller", "x" * 100, "y" * 500, "\udcff"],
)
def test_contact_filename_is_one_safe_path_component(name: str) -> None:
    filename = snapshot.contact_filename(name)
    assert "/" not in filename
    assert filename not in (".", "..")
    assert len(filename.encode()) <= 255
    assert filename.isascii()


def test_contact_filenames_are_distinct() -> None:
    names = ["a", "A", "a ", "ab", "x" * 100, "x" * 101, "x" * 500, "x" * 501]
    assert len({snapshot.contact_filename(n) for n in names}) == len(names)


def test_pack_round_trip_and_framing() -> None:
    value = {"a": (frozenset({"x"}), None, 1.5, [True])}
    packed = snapshot.pack(value, b"TEST")
    assert packed.startswith(b"TEST")
    assert snapshot.unpack(packed, b"TEST") == value
    with pytest.raises(ValueError, match="not a"):
        snapshot.unpack(packed, b"NOPE")


def test_manifest_is_plain_json(tmp_path: Path) -> None:
    before = time.time()
    snapshot.write_snapshot(tmp_path, CONTACTS)
    manifest = json.loads((tmp_path / "current" / "manifest.json").read_text())
    assert manifest["generated_at_epoch"] >= before
    assert manifest["compiled_format"] == engine.COMPILED_FORMAT


# --- the cluster part: who notifies what, in the same generation as the rules ---------------


def part(notifier: str) -> snapshot.ClusterPart:
    return snapshot.cluster_part("a", ["b", "a", "p1"], {"web": "p1"}, {"": notifier, "p1": "p1"})


def test_cluster_part_round_trip(tmp_path: Path) -> None:
    snapshot.write_snapshot(tmp_path, CONTACTS, cluster=part("a"))
    assert snapshot.read_cluster(tmp_path) == {
        "format": snapshot.CLUSTER_FORMAT,
        "node": "a",
        "nodes": ["a", "b", "p1"],
        "groups": {"web": "p1"},
        "notifiers": {"": "a", "p1": "p1"},
    }
    assert snapshot.read_manifest(tmp_path)["cluster_node"] == "a"
    # A snapshot without one (an older portal) is complete: the filter lets everything out.
    snapshot.write_snapshot(tmp_path, CONTACTS)
    assert snapshot.read_cluster(tmp_path) is None
    with pytest.raises(snapshot.SnapshotMissing):
        snapshot.read_cluster(tmp_path / "nowhere")


def test_a_share_nobody_notifies_is_left_out(tmp_path: Path) -> None:
    """No master at all: the filter finds no notifier for the share and fails open."""
    snapshot.write_snapshot(tmp_path, {}, cluster=snapshot.cluster_part("p1", ["p1"], {}, {"": None}))
    cluster = snapshot.read_cluster(tmp_path)
    assert cluster is not None and cluster["notifiers"] == {}


def test_a_bad_cluster_part_writes_nothing(tmp_path: Path) -> None:
    bad = {**part("a"), "groups": {"web": 7}}
    with pytest.raises(ValueError, match=r"cluster part: groups: expected names, got 7"):
        snapshot.write_snapshot(tmp_path, CONTACTS, cluster=bad)  # type: ignore[arg-type]
    assert not (tmp_path / "current").exists()


def test_a_damaged_cluster_part_is_corrupt(tmp_path: Path) -> None:
    snapshot.write_snapshot(tmp_path, CONTACTS, cluster=part("a"))
    path = tmp_path / "current" / snapshot.CLUSTER
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(snapshot.SnapshotCorrupt, match="checksum mismatch"):
        snapshot.read_cluster(tmp_path)


def test_the_cluster_part_swaps_with_the_rules(tmp_path: Path) -> None:
    """One generation holds both: a reader of one generation never mixes one's rules with another's notifiers."""
    first = Path(
        snapshot.write_snapshot(tmp_path, {"alice": {"rules": [], "default": "notify"}}, cluster=part("a"))
    )
    snapshot.write_snapshot(tmp_path, {"alice": {"rules": [], "default": "suppress"}}, cluster=part("b"))
    current = snapshot.read_cluster(tmp_path)
    alice = snapshot.read_contact(tmp_path, "alice")
    assert current is not None and alice is not None
    assert (current["notifiers"][""], alice["default_notify"]) == ("b", False)
    # The previous generation, which readers that resolved it keep using, is whole too.
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "current").symlink_to(first)
    old_cluster = snapshot.read_cluster(tmp_path / "old")
    old_alice = snapshot.read_contact(tmp_path / "old", "alice")
    assert old_cluster is not None and old_alice is not None
    assert (old_cluster["notifiers"][""], old_alice["default_notify"]) == ("a", True)
