"""A group's full training state on disk: one format for a group of any size (a solo run is a group of one).

Saved atomically every ``checkpoint_every`` updates (a kill mid-save leaves the previous one intact). The two
formats regbench wrote before (a solo run's, a fused group's) still load: they are read into this one.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .store import atomic_torch_save, move_aside, warn

FORMAT = 2
KEYS = {"format", "kind", "members", "data_rng", "history", "ended", "step", "train_seconds", "config_hash"}
_SOLO_V1 = {"g", "d", "opt_g", "opt_d", "rng", "data_rng", "history", "step", "train_seconds", "config_hash"}
_FUSED_V1 = {"fused", "data_rng", "history", "members", "step", "train_seconds", "config_hash"}


def _upgrade(state: dict) -> dict:
    """Today's format from any format regbench wrote; ValueError if it is none of them."""
    if state.get("format") == FORMAT and KEYS <= set(state):
        return state
    common = {k: state[k] for k in ("step", "train_seconds", "config_hash")}
    if _SOLO_V1 <= set(state):
        members = {k: state[k] for k in ("g", "d", "opt_g", "opt_d", "rng")}
        members.update(cuda_rng=state.get("cuda_rng"), regularizers=[state.get("regularizer", {})])
        return {"format": FORMAT, "kind": "plain", "members": members, "data_rng": [state["data_rng"]],
                "history": [state["history"]], "ended": [None], **common}
    if _FUSED_V1 <= set(state):
        return {"format": FORMAT, "kind": "fused", "members": state["fused"], "data_rng": state["data_rng"],
                "history": state["history"], "ended": state["members"], **common}
    raise ValueError("not a regbench checkpoint")


class Checkpoint:
    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None

    def exists(self) -> bool:
        return self.path is not None and self.path.exists()

    def save(self, state: dict) -> None:
        atomic_torch_save({"format": FORMAT, **state}, self.path)

    def load(self, config_hash: str, kind: str) -> dict | None:
        """The saved state in today's format; None, with the file moved aside (``.damaged``) and a warning
        naming it, when it does not load (cut short, not a checkpoint) or belongs to another config or kind
        of group: the run then starts afresh instead of failing the same way on every retry."""
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
            if not isinstance(state, dict):
                raise ValueError("not a regbench checkpoint")
            state = _upgrade(state)
            if state["config_hash"] != config_hash:  # run ids include the hash: only a misplaced file gets here
                raise ValueError(f"it belongs to another config ({state['config_hash']}, this run is {config_hash})")
            if state["kind"] != kind:
                raise ValueError(f"it holds a {state['kind']} group, this one trains {kind}")
        except Exception as exc:  # a cut zip or pickle: RuntimeError, EOFError, UnpicklingError, ...
            moved = move_aside(self.path)
            warn(f"checkpoint {self.path} does not load ({type(exc).__name__}: {exc}); moved aside to "
                 f"{moved.name}, the run starts afresh")
            return None
        return state

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
