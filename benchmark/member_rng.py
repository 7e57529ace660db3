"""Each member of a fused group draws its random numbers from its own stream, as its solo run would.

A solo run draws z, and whatever its hooks draw (a gradient penalty's interpolation, DiffAugment), from the
global generators after ``torch.manual_seed(seed)`` and building its models. A fused member keeps those
streams as its own generators (one for the CPU, one for the device) and draws in the same order:
- z: from its generator directly (``gen``);
- a hook called per member: with its streams swapped into the global generators for the call (``as_global``),
  so the hook's own ``torch.rand`` is the solo run's;
- a hook batched over the group: inside ``split_draws``, each random op whose leading dimension is the
  group's k x (samples per member) is drawn as k draws, one per member from its stream, and concatenated:
  one per sample, as the solo runs draw them. A random op that is not one per sample cannot be split; it
  fails with the op's name (the regularizer must then leave that hook out of ``batched``).
"""
from __future__ import annotations

import contextlib

import torch
from torch.overrides import TorchFunctionMode


class UnsplittableDraw(RuntimeError):
    """A batched hook drew random numbers that are not one per sample of the group."""


def _default_generator(device: torch.device) -> torch.Generator:
    if device.type == "cuda":
        return torch.cuda.default_generators[device.index if device.index is not None else torch.cuda.current_device()]
    return torch.default_generator


class MemberStreams:
    """``cpu_states[i]``: member i's CPU generator state, as its solo run's global one after the build."""

    def __init__(self, cpu_states: list[torch.Tensor], seeds: list[int], device: torch.device):
        self.device = device
        self.cpu = [torch.Generator().set_state(s) for s in cpu_states]
        # a solo run's CUDA stream is untouched by the build (the models are built on the CPU): seeded only
        self.dev = ([torch.Generator(device=device).manual_seed(s) for s in seeds] if device.type == "cuda"
                    else self.cpu)
        self.k = len(self.cpu)

    def gen(self, i: int, device: torch.device | str | None = None) -> torch.Generator:
        device = torch.device(device) if device is not None else torch.device("cpu")
        return self.dev[i] if device.type == "cuda" else self.cpu[i]

    @contextlib.contextmanager
    def as_global(self, i: int):
        pairs = [(_default_generator(torch.device("cpu")), self.cpu[i])]
        if self.device.type == "cuda":
            pairs.append((_default_generator(self.device), self.dev[i]))
        saved = [g.get_state() for g, _ in pairs]
        for g, own in pairs:
            g.set_state(own.get_state())
        try:
            yield
        finally:
            for (g, own), state in zip(pairs, saved):
                own.set_state(g.get_state())
                g.set_state(state)

    def split_draws(self, hook: str):
        return _SplitDraws(self, hook)

    def state(self) -> dict:
        return {"cpu": [g.get_state() for g in self.cpu],
                "dev": [g.get_state() for g in self.dev] if self.device.type == "cuda" else None}

    def load(self, state: dict) -> None:
        for g, s in zip(self.cpu, state["cpu"]):
            g.set_state(s)
        if state.get("dev") is not None:
            for g, s in zip(self.dev, state["dev"]):
                g.set_state(s)


def _size(args) -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
        return tuple(args[0])
    return tuple(args)


# in-place samplers: drawn chunk by chunk along dim 0, with the member's generator
_INPLACE = {torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.random_, torch.Tensor.bernoulli_,
            torch.Tensor.exponential_, torch.Tensor.cauchy_, torch.Tensor.log_normal_, torch.Tensor.geometric_}
_LIKE = {torch.rand_like, torch.randn_like, torch.randint_like}
_FACTORY = {torch.rand, torch.randn}
# random ops this module cannot split per member: a batched hook that calls one fails with its name
_OTHER = {torch.randperm, torch.multinomial, torch.normal, torch.poisson, torch.bernoulli,
          torch.nn.functional.dropout, torch.nn.functional.dropout1d, torch.nn.functional.dropout2d,
          torch.nn.functional.dropout3d, torch.nn.functional.alpha_dropout, torch.Tensor.multinomial,
          torch.Tensor.bernoulli}


class _SplitDraws(TorchFunctionMode):
    def __init__(self, streams: MemberStreams, hook: str):
        super().__init__()
        self.streams, self.k, self.hook = streams, streams.k, hook

    def _rows(self, n: int, func) -> int:
        if n <= 0 or n % self.k:
            raise UnsplittableDraw(f"the batched {self.hook} hook drew {func.__name__} with a leading size of {n}, "
                                   f"not one per sample of the group's {self.k} members; a fused run cannot give each "
                                   "member its own draws (leave the hook out of `batched`: it is then called per member)")
        return n // self.k

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if kwargs.get("generator") is not None or not (func in _FACTORY or func in _LIKE or func in _INPLACE
                                                       or func is torch.randint or func in _OTHER):
            return func(*args, **kwargs)
        if func in _OTHER:
            raise UnsplittableDraw(f"the batched {self.hook} hook drew {func.__name__}, which a fused run cannot "
                                   "split per member; leave the hook out of `batched` (it is then called per member)")
        if func in _INPLACE:
            target = args[0]
            m = self._rows(target.shape[0] if target.dim() else 0, func)
            for i in range(self.k):
                func(target[i * m:(i + 1) * m], *args[1:], **kwargs, generator=self.streams.gen(i, target.device))
            return target
        if func in _LIKE:
            like, rest = args[0], args[1:]
            m = self._rows(like.shape[0] if like.dim() else 0, func)
            base = {torch.rand_like: torch.rand, torch.randn_like: torch.randn}.get(func)
            opts = {"dtype": kwargs.get("dtype", like.dtype), "device": kwargs.get("device", like.device)}
            size = (m, *like.shape[1:])
            if base is None:  # randint_like(x, [low,] high)
                low, high = (0, rest[0]) if len(rest) == 1 else rest[:2]
                draws = [torch.randint(low, high, size, **opts, generator=self.streams.gen(i, opts["device"]))
                         for i in range(self.k)]
            else:
                draws = [base(size, **opts, generator=self.streams.gen(i, opts["device"])) for i in range(self.k)]
            return torch.cat(draws)
        if func is torch.randint:
            if "size" in kwargs:
                size, bounds = tuple(kwargs.pop("size")), args
            else:
                size, bounds = tuple(args[-1]), args[:-1]
            if "high" in kwargs:
                bounds = (*bounds, kwargs.pop("high"))
            if "low" in kwargs:
                bounds = (kwargs.pop("low"), *bounds)
            m = self._rows(size[0] if size else 0, func)
            device = kwargs.get("device")
            return torch.cat([torch.randint(*bounds, (m, *size[1:]), **kwargs, generator=self.streams.gen(i, device))
                              for i in range(self.k)])
        size = tuple(kwargs.pop("size")) if "size" in kwargs else _size(args)  # rand, randn
        m = self._rows(size[0] if size else 0, func)
        device = kwargs.get("device")
        return torch.cat([func((m, *size[1:]), **kwargs, generator=self.streams.gen(i, device))
                          for i in range(self.k)])
