"""Reference modules that neither torchvision 0.16 nor timm builds, shared by the zoo's parity
generators (zoo_cnn_gen.py, zoo_modern_gen.py) and bench/forward.py: the researcher's ZFNet and
ConvNeXt at the paper's XLarge size; and what every forward golden goes through (perturb,
check_informative, save_state_dict, save_npy), shared by zoo_cnn_gen.py, zoo_resnet_gen.py and
zoo_modern_gen.py.
"""
import os

import numpy as np
import torch
import torch.nn as nn
from torchvision.models import convnext as tv_convnext


class ZFNet(nn.Module):
    """classic_models/zfnet.py's ZFNet(num_classes, init_weights=False), as zfnet() builds it."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(256, 512, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(512, 1024, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 512, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Linear(512 * 13 * 13, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(x, start_dim=1)
        return self.classifier(x)


def convnext_xlarge(num_classes):
    # torchvision has no builder for the XLarge size of the ConvNeXt paper; this is its
    # ConvNeXt class with the paper's XL widths and depths, and the large model's 0.5.
    cfg = tv_convnext.CNBlockConfig
    setting = [cfg(256, 512, 3), cfg(512, 1024, 3), cfg(1024, 2048, 27), cfg(2048, None, 3)]
    return tv_convnext.ConvNeXt(setting, stochastic_depth_prob=0.5, num_classes=num_classes)


def perturb(model):
    """Makes every parameter and buffer of model informative, so that a dropped, misplaced or
    permuted tensor changes the logits: BatchNorm running statistics (and num_batches_tracked)
    randomised; every constant parameter drawn around its value: normalisation weights at 1
    in [0.5, 1.5], zeros (normalisation biases, ViT's head weight and class token) in
    [-0.1, 0.1], except the zero bias of a convolution or Linear layer (VGG, AlexNet,
    GoogLeNet, DenseNet and MobileNetV3 classifiers and convolutions, squeeze-excitation, ...),
    drawn in [-s, s] with s its layer's weight standard deviation, so that it neither
    vanishes nor swamps the layer's output (with ±0.1 on MobileNetV3's N(0, 0.01) classifier,
    a dropped squeeze-excitation bias moved the eval-mode logits by 1e-4 of their scale, the
    parity bound; with s, by 1e-3); ConvNeXt's 1e-6 layer scale and Swin's small
    relative position bias enlarged so they matter. Draws from the global generator (seed it
    first)."""
    def constant(t):
        return t.numel() > 1 and bool((t == t.flatten()[0]).all())

    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm) and mod.running_mean is not None:
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.num_batches_tracked.fill_(int(torch.randint(1, 1000, ())))
        params = dict(model.named_parameters())  # a layer's weight comes before its bias
        for k, p in params.items():
            if k.endswith("layer_scale"):
                p.uniform_(0.1, 0.5)
            elif k.endswith("relative_position_bias_table"):
                p.normal_(0, 0.5)
            elif constant(p):
                c = float(p.flatten()[0])
                w = params.get(k[:-len("bias")] + "weight") if k.endswith("bias") else None
                if c != 0:
                    p.uniform_(0.5, 1.5).mul_(c)
                elif w is not None and w.dim() >= 2 and not constant(w):
                    s = float(w.std())
                    p.uniform_(-s, s)
                else:
                    p.uniform_(-0.1, 0.1)
        for k, b in model.named_buffers():
            if b.is_floating_point() and constant(b):
                b.uniform_(-0.1, 0.1) if float(b.flatten()[0]) == 0 else b.uniform_(0.5, 1.5)


def check_informative(tensors, where):
    """Refuses to save a tensor (of more than one element) whose elements are all equal: a
    golden made from it cannot see a bug that drops, misplaces or reorders it."""
    for k, v in tensors.items():
        v = torch.as_tensor(v)
        if v.numel() > 1 and bool((v == v.flatten()[0]).all()):
            raise SystemExit(f"{where}: {k} {list(v.shape)} is constant ({v.flatten()[0].item()}); "
                             f"perturb it before saving")


def save_state_dict(state_dict, path):
    """torch.save(state_dict, path) after check_informative."""
    check_informative(state_dict, os.path.basename(path))
    torch.save(state_dict, path)


def save_npy(path, array):
    """np.save(path, array) after check_informative."""
    check_informative({"array": torch.from_numpy(array)}, os.path.basename(path))
    np.save(path, array)
