"""Adam for a fused group: one optimizer over stacked parameters, with lr, beta1 and beta2 per member.

torch.optim.Adam takes one lr and one pair of betas per parameter group, and a group per member would
undo the fusion (k small updates instead of one). Here every parameter's member axis is the leading one,
the hyperparameters are k-vectors broadcast along it, and all parameters are updated as one flat (k, N)
tensor: a dozen ops per step whatever the number of layers. The arithmetic is torch's Adam (lerp for the
first moment, the bias corrections applied to the step size and to sqrt(v)); tested against
torch.optim.Adam run per member.
"""
from __future__ import annotations

import torch


class MemberAdam:
    def __init__(self, params, *, lr, beta1, beta2, eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        p0 = self.params[0]
        self.k = p0.shape[0]
        as_column = lambda v: torch.as_tensor(v, dtype=torch.float64, device=p0.device).reshape(self.k, 1)
        self.base_lr, self.beta1, self.beta2 = as_column(lr), as_column(beta1), as_column(beta2)
        self.lr = self.base_lr.clone()
        self.eps = eps
        self.sizes = [p[0].numel() for p in self.params]
        n = sum(self.sizes)
        self.exp_avg = torch.zeros(self.k, n, dtype=p0.dtype, device=p0.device)
        self.exp_avg_sq = torch.zeros_like(self.exp_avg)
        self.step_count = 0

    def scale_lr(self, factor: float) -> None:
        """lr = base lr x factor for every member (the linear decay)."""
        self.lr = self.base_lr * factor

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        g = torch.cat([x.reshape(self.k, -1) for x in grads], dim=1)
        self.step_count += 1
        t = self.step_count
        dtype = g.dtype
        self.exp_avg.lerp_(g, (1 - self.beta1).to(dtype))
        self.exp_avg_sq.mul_(self.beta2.to(dtype)).addcmul_(g * (1 - self.beta2).to(dtype), g)
        bias1 = 1 - self.beta1 ** t
        bias2_sqrt = (1 - self.beta2 ** t).sqrt()
        denom = (self.exp_avg_sq.sqrt() / bias2_sqrt.to(dtype)).add_(self.eps)
        update = self.exp_avg / denom * (-self.lr / bias1).to(dtype)
        torch._foreach_add_(self.params, [u.view_as(p) for u, p in
                                          zip(update.split(self.sizes, dim=1), self.params)])

    def state_dict(self) -> dict:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "step": self.step_count,
                "base_lr": self.base_lr, "beta1": self.beta1, "beta2": self.beta2}

    def load_state_dict(self, state: dict) -> None:
        self.exp_avg.copy_(state["exp_avg"]), self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.step_count = state["step"]
