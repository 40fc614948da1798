"""Reference modules that neither torchvision 0.16 nor timm builds, shared by the zoo's parity
generators (zoo_cnn_gen.py, zoo_modern_gen.py) and bench/forward.py: the researcher's ZFNet and
ConvNeXt at the paper's XLarge size.
"""
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
