"""LeCam regularization (Tseng, Jiang, Zhang, Yang and Yang, "Regularizing Generative Adversarial Networks
under Limited Data", CVPR 2021): D's outputs on real images are pulled toward the moving average of its
outputs on fakes, and the other way round,

    lambda * (E[relu(D(x) - ema_fake)^2] + E[relu(ema_real - D(G(z)))^2]),

which bounds a LeCam divergence between the data and the model. lambda 0.3, decay 0.99 and the averages
starting after 1,000 D updates (before that they follow the last batch) are the authors' CIFAR-10 settings.

The averages and the D-update counter are state: kept in state_dict(), so a resumed run continues them
instead of starting from zero. D's outputs come from the step itself (d_real, d_fake): no extra forward.
"""
import torch
import torch.nn.functional as F

from benchmark.regularizers import Regularizer


class LeCam(Regularizer):
    defaults = {"lambda_lecam": 0.3, "decay": 0.99, "ema_start": 1000}

    def __init__(self, **params):
        super().__init__(**params)
        # tensors on D's device, moved there at the first update: .item() would wait for the GPU every D step
        self.ema_real, self.ema_fake, self.updates = torch.zeros(()), torch.zeros(()), 0

    def penalty(self, *, discriminator, real, fake, d_real, d_fake):
        decay = self.decay if self.updates >= self.ema_start else 0.0
        self.ema_real = decay * self.ema_real.to(d_real.device) + (1 - decay) * d_real.detach().mean()
        self.ema_fake = decay * self.ema_fake.to(d_fake.device) + (1 - decay) * d_fake.detach().mean()
        self.updates += 1
        reg = F.relu(d_real - self.ema_fake).pow(2).mean() + F.relu(self.ema_real - d_fake).pow(2).mean()
        return self.lambda_lecam * reg

    def state_dict(self):
        return {"ema_real": self.ema_real, "ema_fake": self.ema_fake, "updates": self.updates}

    def load_state_dict(self, state):
        self.ema_real, self.ema_fake, self.updates = state["ema_real"], state["ema_fake"], state["updates"]
