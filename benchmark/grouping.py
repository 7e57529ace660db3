"""Groups: the unit of work. A group is made once, here, from the runs still to do: runs equal but for what
a fused model can hold per member train together (a solo run is a group of one). Its id, its checkpoint and
its members are the group's, and every part reads them from it: the launchers, the trainer, the result
writer, and the report (through plan.json, which lists the sweep's groups).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .store import CHECKPOINT_DIR
from .schema import RunSpec, group_hash, solo_reason

# what may differ between the members of a fused group (each is per member in backends.Fused: its seed's streams,
# MemberAdam's lr and betas): the rest must be equal. The setting's name goes with lr and betas: settings that
# differ only in those fuse.
MEMBER_FIELDS = {"seed": 0, "lr": 0.0, "beta1": 0.0, "beta2": 0.0, "setting": ""}


def groups(specs: list[RunSpec], fuse: int | str) -> list[list[RunSpec]]:
    """``specs`` as the groups that train together, in the order of their first run: runs equal but for
    seed, lr, beta1 and beta2 (and the setting that names those) go together, at most ``fuse`` to a
    group and as evenly as that allows (12 runs at fuse 10: 6 and 6). ``fuse`` 1: each run alone; ``auto``:
    as many as fusing.decide says pays for that group's model and device."""
    buckets: dict = {}
    for spec in specs:
        key = spec if fuse == 1 or solo_reason(spec) else replace(spec, **MEMBER_FIELDS)
        buckets.setdefault(key, []).append(spec)
    out = []
    for members in buckets.values():
        most = fuse_decision(members[0]).size if fuse == "auto" else fuse
        n = -(-len(members) // max(1, most))  # groups needed
        size, extra = divmod(len(members), n)
        start = 0
        for i in range(n):
            end = start + size + (i < extra)
            out.append(members[start:end])
            start = end
    return out


def fuse_decision(spec: RunSpec):
    """fusing.decide for ``spec`` (imported here: it builds the models to count their FLOPs)."""
    from .fusing import decide

    return decide(spec)


@dataclass(frozen=True)
class Group:
    """Runs that train as one model (one run: a solo run). A sequence of its members' RunSpecs."""

    members: tuple[RunSpec, ...]

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self):
        return iter(self.members)

    def __getitem__(self, i):
        return self.members[i]

    @property
    def fused(self) -> bool:
        return len(self.members) > 1

    @property
    def id(self) -> str:
        """A solo run's id; a fused group's: its first run's name, its size and its members' hash."""
        first = self.members[0]
        if not self.fused:
            return first.run_id
        return f"{first.label}-{first.setting}-s{first.seed}-x{len(self)}-{group_hash(self.members)}"

    @property
    def checkpoint_name(self) -> str:
        return f"{self.id}.pt" if not self.fused else f"group-{self.id}.pt"

    def checkpoint(self, results_dir: Path) -> Path:
        return Path(results_dir) / CHECKPOINT_DIR / self.checkpoint_name

    def describe(self) -> str:
        return f"run {self.id}" if not self.fused else f"fused group {self.id} ({len(self)} runs)"

    def planned(self) -> dict:
        """The group as plan.json records it."""
        return {"id": self.id, "members": [s.run_id for s in self.members], "checkpoint": self.checkpoint_name}


def checkpointed(entry: dict, results_dir: Path) -> bool:
    """Whether the group a plan.json entry describes has its checkpoint in ``results_dir``."""
    return (Path(results_dir) / CHECKPOINT_DIR / str(entry.get("checkpoint"))).is_file()


def make_groups(pending: list[RunSpec], fuse: int | str, *, suite_runs: list[RunSpec] = (),
                results_dir: Path | None = None, previous: list[dict] = ()) -> list[Group]:
    """The groups that train the ``pending`` runs. A group of an earlier sweep (``previous``: its plan.json's
    groups) that left a checkpoint and still has a pending member trains again as that same group, from its
    checkpoint: ``--retry-failed`` of a partly failed group, or a sweep stopped mid-group and resumed with
    another ``fuse``. Its members that have a result keep it (results are written for pending runs only).
    The other pending runs are grouped afresh. ``suite_runs``: every run of the suite, pending or not."""
    pending_ids = {s.run_id for s in pending}
    known = {s.run_id: s for s in suite_runs}
    kept: list[Group] = []
    taken: set = set()
    for entry in previous:
        ids = entry.get("members", [])
        if (results_dir is None or not pending_ids & set(ids) or taken & set(ids) or not all(i in known for i in ids)
                or not checkpointed(entry, results_dir)):
            continue
        group = Group(tuple(known[i] for i in ids))
        if group.id == entry.get("id"):  # the same runs with the same configs: its checkpoint is theirs
            kept.append(group)
            taken |= set(ids)
    return kept + [Group(tuple(g)) for g in groups([s for s in pending if s.run_id not in taken], fuse)]
