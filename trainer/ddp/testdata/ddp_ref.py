"""PyTorch's DistributedDataParallel on Gloo, the oracle of trainer/ddp's TestParityDDPAgainstTorchrun.

Run under torchrun (two processes): every rank builds the test's toy net (conv 3→8 k3 p1, ReLU,
conv 8→8 k3 p1 s2, ReLU, global average pool, linear 8→5), loads the initial weights the Go
test wrote (init.pth, rank 0's; DDP broadcasts them anyway), wraps it in
DistributedDataParallel (bucket_cap_mb as given) and takes one step per batch file
x_r<rank>_s<step>.npy / y_r<rank>_s<step>.npy: unweighted cross-entropy, backward (DDP
averages the gradients), Adam(lr=0.01, weight_decay=1e-4, foreach=False). Rank 0 writes the
parameters after every step to torch_steps.npy ([steps, n_params_flat], float32, in
state_dict order) and the versions to meta.json.

    torchrun --nproc_per_node 2 ddp_ref.py --dir DIR --steps N
"""
import argparse
import json
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, stride=2)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--bucket_cap_mb", type=float, default=25)
    a = ap.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    model = Toy()
    model.load_state_dict(torch.load(os.path.join(a.dir, "init.pth")), strict=True)
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=a.bucket_cap_mb)
    opt = torch.optim.Adam(ddp.parameters(), lr=0.01, weight_decay=1e-4, foreach=False)
    crit = nn.CrossEntropyLoss()
    steps = []
    for s in range(a.steps):
        x = torch.from_numpy(np.load(os.path.join(a.dir, f"x_r{rank}_s{s}.npy")))
        y = torch.from_numpy(np.load(os.path.join(a.dir, f"y_r{rank}_s{s}.npy")))
        loss = crit(ddp(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        steps.append(torch.cat([p.detach().reshape(-1) for p in model.state_dict().values()]).numpy().copy())
    if rank == 0:
        np.save(os.path.join(a.dir, "torch_steps.npy"), np.stack(steps).astype(np.float32))
        with open(os.path.join(a.dir, "meta.json"), "w") as f:
            json.dump(dict(torch=torch.__version__, world=dist.get_world_size(), steps=a.steps), f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
