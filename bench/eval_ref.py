"""PyTorch reference for bench/evalrate: evaluation throughput, the script's way.

The script's val DataLoader (DR_Grading_Dataset from train_ref.py, Resize(256), CenterCrop(224),
ToTensor, Normalize; batch_size, shuffle=False, pin_memory=True, num_workers=min(cpus, batch,
8), collate_fn) feeding upstream utils.train_engin.evaluate (model.eval(), torch.no_grad(),
argmax, predictions collected). The model is torchvision's --arch with seeded weights.

One run: a warm-up (the first batch of a separate iterator, forwarded once), then one timed
evaluate over the whole val split (its DataLoader iterator starts the worker processes, as
every epoch of the script does). Prints the keys of bench/evalrate as JSON.
Run with the venv's python: ~/.cache/drgrade/venv/bin/python bench/eval_ref.py --data DIR.
"""
import argparse
import io
import json
import os
import sys
import time
from contextlib import redirect_stdout

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
with redirect_stdout(io.StringIO()):
    import train_ref  # noqa: E402  (its dataset, transforms and evaluate)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', required=True)
    p.add_argument('--model', default='resnet_small', help="drgrade's name (a label)")
    p.add_argument('--arch', default='resnet34')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--workers', type=int, default=0, help="0: the script's min(cpus, batch, 8)")
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    tf = torchvision.transforms
    val_tf = tf.Compose([tf.Resize(256), tf.CenterCrop(224), tf.ToTensor(),
                         tf.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    with redirect_stdout(io.StringIO()):
        ds = train_ref.DR_Grading_Dataset(os.path.join(a.data, 'val'), os.path.join(a.data, 'val.txt'), transform=val_tf)
    nw = a.workers or min([os.cpu_count(), a.batch if a.batch > 1 else 0, 8])
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=False, pin_memory=True, num_workers=nw,
                                     collate_fn=ds.collate_fn)
    model = getattr(torchvision.models, a.arch)(num_classes=5)
    model.eval()
    it = iter(dl)
    x, _ = next(it)
    del it
    with torch.no_grad():
        model(x)
    t0 = time.perf_counter()
    with redirect_stdout(io.StringIO()):  # evaluate's tqdm bar
        _, preds, _ = train_ref.evaluate(model, dl, torch.device('cpu'), return_preds=True)
    secs = time.perf_counter() - t0
    print(json.dumps({'impl': 'pytorch', 'model': a.model, 'images': len(preds), 'seconds': secs,
                      'images_per_s': len(preds) / secs, 'batch': a.batch, 'workers': nw, 'threads': a.threads}))


if __name__ == '__main__':
    main()
