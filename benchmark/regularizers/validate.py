"""What a regularizer class must be before it is registered: checked when it loads, so a broken plugin is
refused with one message instead of failing hours into a sweep. (Behaviour on real networks is
`regbench check-plugin`'s job: plugin_check.py.)"""
from __future__ import annotations

import inspect
from typing import Any

from ..losses import LOSSES
from .base import Regularizer

PLAIN = (bool, int, float, str)

# how the trainer and the model factories call each hook: a plugin's hook must accept exactly this
CALLS: dict[str, tuple[tuple, dict]] = {
    "wrap_layer": (("layer",), {}),
    "normalization": (("num_features",), {}),
    "initialize": (("discriminator",), {}),
    "augment": (("images",), {}),
    "discriminate": (("discriminator", "images"), {}),
    "penalty": ((), {"discriminator": None, "real": None, "fake": None}),
    "after_d_step": (("discriminator",), {}),
    "state_dict": ((), {}),
    "load_state_dict": (("state",), {}),
}


def problems(obj: Any, *, plugin: bool) -> list[str]:
    """Why ``obj`` cannot be a regularizer (empty when it can). ``plugin``: also refuse a class that
    would change nothing, which only the built-in baseline ``none`` may be."""
    if not isinstance(obj, type):
        return [f"is {type(obj).__name__} {obj!r}, not a class (a Regularizer subclass)"]
    if not issubclass(obj, Regularizer):
        missing = [h for h in Regularizer.HOOKS if not callable(getattr(obj, h, None))]
        return [f"class {obj.__name__} does not subclass benchmark.regularizers.Regularizer"
                + (f" (it lacks the hooks {', '.join(missing)})" if missing else "")]
    out = []
    defaults = obj.defaults
    if not isinstance(defaults, dict) or not all(isinstance(k, str) and isinstance(v, PLAIN)
                                                 for k, v in defaults.items()):
        out.append(f"defaults must be a dict of name -> int/float/bool/str, got {defaults!r}")
    if obj.loss is not None and obj.loss not in LOSSES:
        out.append(f"loss {obj.loss!r} is not a registered loss ({', '.join(LOSSES.names())}) or None")
    for hook, (args, kwargs) in CALLS.items():
        if not obj.uses(hook):
            continue
        fn = getattr(obj, hook)
        if not callable(fn):
            out.append(f"hook {hook} is {type(fn).__name__}, not a method")
            continue
        if hook == "penalty":  # and whichever of d_real, d_fake it asks for
            kwargs = {**kwargs, **{k: None for k in obj.penalty_extras()}}
        try:
            inspect.signature(fn).bind(None, *args, **kwargs)  # None stands for self
        except TypeError:
            call = ", ".join([*args, *(f"{k}=" for k in kwargs)])
            out.append(f"hook {hook}{inspect.signature(fn)} cannot be called as {hook}({call})")
        except ValueError:  # a builtin without a signature: nothing to check
            pass
    batched = obj.batched
    if not isinstance(batched, (frozenset, set, tuple, list)) or not isinstance(obj.fusable, bool):
        out.append(f"batched must be a set of hook names and fusable True or False, got batched={batched!r}, "
                   f"fusable={obj.fusable!r}")
    else:
        wrong = sorted(set(batched) - set(Regularizer.BATCHABLE))
        unused = sorted(h for h in set(batched) & set(Regularizer.BATCHABLE) if not obj.uses(h))
        if wrong:
            out.append(f"batched names {', '.join(map(repr, wrong))}: only {', '.join(Regularizer.BATCHABLE)} can be "
                       "called once for a fused group")
        if unused:
            out.append(f"batched names {', '.join(unused)}, which it does not override")
    if plugin and not any(obj.uses(h) for h in Regularizer.HOOKS) and obj.loss is None:
        out.append(f"overrides none of the hooks ({', '.join(Regularizer.HOOKS)}) and declares no loss, "
                   "so it would change nothing")
    return out
