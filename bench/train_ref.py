"""PyTorch reference for bench/epoch: train_imbalance.py's training loop, timed.

The researcher's script (/work/shared/reference/train_imbalance.py) with the modules it
imports written out (semantics.md): DR_Grading_Dataset (dataload_DR_grading.py), the
torchvision model classic_models names (--arch: drgrade's Config().Arch), upstream
utils.lr_methods.warmup and utils.train_engin.train_one_epoch / evaluate (tqdm progress,
GradScaler disabled on the CPU). Same transforms, DataLoader(batch_size, shuffle,
pin_memory=True, num_workers=min(cpus, batch_size, 8), collate_fn), CrossEntropyLoss(weight=
1/count), Adam(lr, weight_decay=1e-4), the cosine LambdaLR stepped per epoch and the warmup
LambdaLR stepped per iteration in epoch 0, sklearn's confusion matrix and weighted
precision/recall/F1, DDR.txt, TensorBoard scalars, torch.save of the best state_dict.

Differences, each so that both sides do the same work: the model is built once (the script
built it twice, a bug drgrade fixes); outputs go under --output; the tags list's stray line
break is removed (a syntax error in the original); torch.set_num_threads(--threads) matches
drgrade's --threads (the script left torch's default, the number of cores).

Prints one JSON line, the keys of bench/epoch: first_step_unix (wall clock when step 1's
optimiser step and zero_grad finished), second_step_unix (the same for step 2), epoch_s (train + scheduler step + evaluate + metrics
per epoch), train_loss, val_accuracy.
Run with the venv's python: ~/.cache/drgrade/venv/bin/python bench/train_ref.py --data_path DIR --output DIR.
"""
import time

_MAIN_START = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.optim as optim  # noqa: E402
import torch.optim.lr_scheduler as lr_scheduler  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score  # noqa: E402
from torch.utils.data import Dataset  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402
from torchvision import transforms  # noqa: E402
from tqdm import tqdm  # noqa: E402


class DR_Grading_Dataset(Dataset):
    """dataload_DR_grading.py, verbatim but for style."""

    def __init__(self, data_path, labels_file, transform=None):
        self.data_path = data_path
        self.transform = transform
        self.images_path = []
        self.images_label = []
        with open(labels_file, 'r') as f:
            for line in f:
                image_name, label = line.strip().split()
                self.images_path.append(os.path.join(data_path, image_name))
                self.images_label.append(int(label))
        self.num_class = len(set(self.images_label))
        print("{} images were found in the dataset.".format(len(self.images_path)))

    def __len__(self):
        return len(self.images_path)

    def __getitem__(self, idx):
        img = Image.open(self.images_path[idx])
        if img.mode != 'RGB':
            img = img.convert('RGB')
        if self.transform:
            img = self.transform(img)
        return img, self.images_label[idx]

    @staticmethod
    def collate_fn(batch):
        images, labels = tuple(zip(*batch))
        return torch.stack(images, dim=0), torch.tensor(labels)


def warmup(optimizer, warm_up_iters, warm_up_factor):
    """utils.lr_methods.warmup."""
    def f(x):
        if x >= warm_up_iters:
            return 1
        alpha = float(x) / warm_up_iters
        return warm_up_factor * (1 - alpha) + alpha
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=f)


FIRST_STEP = [None, None]  # wall clock when steps 1 and 2 finished


def train_one_epoch(model, optimizer, data_loader, device, epoch, use_amp=False, lr_method=None, criterion=None):
    """utils.train_engin.train_one_epoch, with the script's criterion passed in."""
    model.train()
    loss_function = criterion
    train_loss = torch.zeros(1).to(device)
    acc_num = torch.zeros(1).to(device)
    optimizer.zero_grad()
    lr_scheduler_ = None
    if epoch == 0 and lr_method == warmup:
        warmup_factor = 1.0 / 1000
        warmup_iters = min(1000, len(data_loader) - 1)
        lr_scheduler_ = warmup(optimizer, warmup_iters, warmup_factor)
    data_loader = tqdm(data_loader, file=sys.stdout)
    enable_amp = use_amp and "cuda" in device.type
    scaler = torch.cuda.amp.GradScaler(enabled=enable_amp)
    sample_num = 0
    for step, data in enumerate(data_loader):
        images, labels = data
        sample_num += images.shape[0]
        with torch.cuda.amp.autocast(enabled=enable_amp):
            pred = model(images.to(device))
            loss = loss_function(pred, labels.to(device))
        pred_class = torch.max(pred, dim=1)[1]
        acc_num += torch.eq(pred_class, labels.to(device)).sum()
        train_loss += loss.detach()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad()
        if step < 2 and FIRST_STEP[step] is None:
            FIRST_STEP[step] = time.time()
        data_loader.desc = "[train epoch {}] loss: {:.3f}  acc: {:.3f}  lr: {:.5f}".format(
            epoch, train_loss.item() / (step + 1), acc_num.item() / sample_num, optimizer.param_groups[0]["lr"])
        if not torch.isfinite(loss):
            print('WARNING: non-finite loss, ending training ', loss)
            sys.exit(1)
        if lr_scheduler_ is not None:
            lr_scheduler_.step()
    return train_loss.item() / (step + 1), acc_num.item() / sample_num


@torch.no_grad()
def evaluate(model, data_loader, device, return_preds=False):
    """utils.train_engin.evaluate, returning predictions as the script expects."""
    model.eval()
    num_samples = len(data_loader.dataset)
    sum_num = torch.zeros(1).to(device)
    preds, labels_all = [], []
    data_loader = tqdm(data_loader, file=sys.stdout)
    for step, data in enumerate(data_loader):
        images, labels = data
        pred = model(images.to(device))
        pred = torch.max(pred, dim=1)[1]
        sum_num += torch.eq(pred, labels.to(device)).sum()
        preds.extend(pred.tolist())
        labels_all.extend(labels.tolist())
    val_acc = sum_num.item() / num_samples
    if return_preds:
        return val_acc, preds, labels_all
    return val_acc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--num_classes', type=int, default=5)
    parser.add_argument('--epochs', type=int, default=1)
    parser.add_argument('--batch_size', type=int, default=32)
    parser.add_argument('--lr', type=float, default=0.0002)
    parser.add_argument('--lrf', type=float, default=0.0001)
    parser.add_argument('--data_path', type=str, required=True)
    parser.add_argument('--model', type=str, default='resnet_small', help="drgrade's model name (a label)")
    parser.add_argument('--arch', type=str, default='resnet34', help="torchvision builder (drgrade's Config().Arch)")
    parser.add_argument('--output', type=str, required=True)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--num_workers', type=int, default=-1, help="-1: the script's min(cpus, batch_size, 8)")
    args = parser.parse_args()

    # seed_torch() (the script's --seed was always on, seed 1)
    random.seed(1)
    os.environ['PYTHONHASHSEED'] = str(1)
    np.random.seed(1)
    torch.manual_seed(1)
    print('random seed has been fixed')
    torch.set_num_threads(args.threads)

    device = torch.device("cpu")
    print(args)
    print(f"Using device: {device}")
    model = getattr(torchvision.models, args.arch)(num_classes=args.num_classes).to(device)

    log_path = os.path.join(args.output, 'tensorboard', args.model)
    os.makedirs(log_path, exist_ok=True)
    tb_writer = SummaryWriter(log_path)

    norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    data_transform = {
        "train": transforms.Compose([transforms.RandomResizedCrop(224),
                                     transforms.RandomHorizontalFlip(),
                                     transforms.RandomRotation(30),
                                     transforms.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2),
                                     transforms.ToTensor(), norm]),
        "val": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), norm]),
    }
    train_dataset = DR_Grading_Dataset(os.path.join(args.data_path, 'train'), os.path.join(args.data_path, 'train.txt'),
                                       transform=data_transform["train"])
    val_dataset = DR_Grading_Dataset(os.path.join(args.data_path, 'val'), os.path.join(args.data_path, 'val.txt'),
                                     transform=data_transform["val"])
    if args.num_classes != train_dataset.num_class:
        raise ValueError("dataset has {} classes, but input {}".format(train_dataset.num_class, args.num_classes))

    class_weights = [1.0 / train_dataset.images_label.count(c) for c in range(args.num_classes)]
    class_weights = torch.FloatTensor(class_weights).to(device)

    nw = min([os.cpu_count(), args.batch_size if args.batch_size > 1 else 0, 8])
    if args.num_workers >= 0:
        nw = args.num_workers
    print('Using {} dataloader workers every process'.format(nw))
    train_loader = torch.utils.data.DataLoader(train_dataset, batch_size=args.batch_size, shuffle=True, pin_memory=True,
                                               num_workers=nw, collate_fn=train_dataset.collate_fn)
    val_loader = torch.utils.data.DataLoader(val_dataset, batch_size=args.batch_size, shuffle=False, pin_memory=True,
                                             num_workers=nw, collate_fn=val_dataset.collate_fn)

    criterion = torch.nn.CrossEntropyLoss(weight=class_weights).to(device)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-4)
    lf = lambda x: ((1 + math.cos(x * math.pi / args.epochs)) / 2) * (1 - args.lrf) + args.lrf  # noqa: E731
    scheduler = lr_scheduler.LambdaLR(optimizer, lr_lambda=lf)
    best_acc = 0.
    save_path = os.path.join(args.output, 'weights', args.model)
    os.makedirs(save_path, exist_ok=True)

    epoch_s, first = [], None
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        mean_loss, train_acc = train_one_epoch(model=model, optimizer=optimizer, data_loader=train_loader, device=device,
                                               epoch=epoch, use_amp=False, lr_method=warmup, criterion=criterion)
        scheduler.step()
        val_acc, val_preds, val_labels = evaluate(model=model, data_loader=val_loader, device=device, return_preds=True)
        cm = confusion_matrix(val_labels, val_preds)  # noqa: F841
        precision = precision_score(val_labels, val_preds, average='weighted', zero_division=0)
        recall = recall_score(val_labels, val_preds, average='weighted', zero_division=0)
        f1 = f1_score(val_labels, val_preds, average='weighted', zero_division=0)
        epoch_s.append(time.perf_counter() - t0)
        if first is None:
            first = (mean_loss, val_acc)
        print('[epoch %d] train_loss: %.3f  train_acc: %.3f  val_accuracy: %.3f' % (epoch + 1, mean_loss, train_acc, val_acc))
        print(f"Precision: {precision:.3f}, Recall: {recall:.3f}, F1 Score: {f1:.3f}")
        with open(os.path.join(save_path, "DDR.txt"), 'a') as f:
            f.writelines('[epoch %d] train_loss: %.3f  train_acc: %.3f  val_accuracy: %.3f\n' % (epoch + 1, mean_loss, train_acc, val_acc))
            f.writelines(f'Precision: {precision:.3f}, Recall: {recall:.3f}, F1 Score: {f1:.3f}\n')
        tags = ["train_loss", "train_acc", "val_accuracy", "learning_rate", "precision", "recall", "f1_score"]
        for tag, v in zip(tags, [mean_loss, train_acc, val_acc, optimizer.param_groups[0]["lr"], precision, recall, f1]):
            tb_writer.add_scalar(tag, v, epoch)
        if val_acc > best_acc:
            best_acc = val_acc
            torch.save(model.state_dict(), os.path.join(save_path, "DDR.pth"))
    tb_writer.close()
    print(json.dumps({'impl': 'pytorch', 'model': args.model, 'batch': args.batch_size, 'threads': args.threads,
                      'workers': nw, 'first_step_unix': FIRST_STEP[0],
                      'second_step_unix': FIRST_STEP[1] or 0, 'main_start_unix': _MAIN_START,
                      'epoch_s': epoch_s, 'train_loss': first[0], 'val_accuracy': first[1]}))


if __name__ == '__main__':
    main()
