"""PyTorch reference for bench/datapipe (drgrade's loader): the script's data path, timed.

train_ref.DR_Grading_Dataset (dataload_DR_grading.py's: PIL Image.open, convert('RGB') when
the mode is not RGB, the torchvision transform, collate_fn stacking images and a label tensor)
under torch.utils.data.DataLoader(batch_size, shuffle for train, num_workers, collate_fn), with
train_imbalance.py's transforms. pin_memory is off: the script asks for it, but without CUDA
torch turns it off anyway (with a warning).

One run: a warm-up (the first batch of a separate iterator), then --epochs full epochs timed
from iterator creation (which starts the worker processes, as every epoch of the script does)
to the last batch. Prints {images, seconds, images_per_s} as JSON, like bench/datapipe.
Run with the venv's python: ~/.cache/drgrade/venv/bin/python bench/datapipe.py --data DIR.
"""
import argparse
import io
import json
import os
import sys
import time
from contextlib import redirect_stdout

import PIL
import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
with redirect_stdout(io.StringIO()):
    import train_ref  # noqa: E402  (its DR_Grading_Dataset, dataload_DR_grading.py's)


def pipeline(name):
    """train_imbalance.py's data_transform[name]."""
    norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    if name == 'train':
        return transforms.Compose([transforms.RandomResizedCrop(224),
                                   transforms.RandomHorizontalFlip(),
                                   transforms.RandomRotation(30),
                                   transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2),
                                   transforms.ToTensor(), norm])
    return transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), norm])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', required=True, help='data set root (DDR layout)')
    p.add_argument('--pipeline', choices=['train', 'val'], default='train')
    p.add_argument('--workers', type=int, default=0, help="0: the script's min(cpus, batch, 8)")
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    nw = a.workers or min([os.cpu_count(), a.batch if a.batch > 1 else 0, 8])
    with redirect_stdout(io.StringIO()):  # the data set's "N images were found"
        ds = train_ref.DR_Grading_Dataset(os.path.join(a.data, a.pipeline), os.path.join(a.data, a.pipeline + '.txt'),
                                          transform=pipeline(a.pipeline))
    dl = DataLoader(ds, batch_size=a.batch, shuffle=a.pipeline == 'train', pin_memory=False,
                    num_workers=nw, collate_fn=ds.collate_fn)

    it = iter(dl)  # warm-up: one batch, then the workers are shut down
    next(it)
    del it

    images = 0
    start = time.perf_counter()
    for _ in range(a.epochs):
        for x, _y in dl:
            images += x.shape[0]
    secs = time.perf_counter() - start
    print(json.dumps({'images': images, 'seconds': secs, 'images_per_s': images / secs,
                      'impl': 'pytorch', 'pipeline': a.pipeline, 'workers': nw, 'batch': a.batch,
                      'torch': torch.__version__, 'torchvision': torchvision.__version__,
                      'pillow': PIL.__version__}))


if __name__ == '__main__':
    main()
