#!/usr/bin/env python3
"""Does a model's vision trunk see shape? Linear probes on its features, per object.

    .venv/bin/python tools/shapes/probe.py [MODEL_DIR] [--scenes N] [--seed S]

Held-out generated scenes go through the detector's vision encoder; each object's features are
averaged over its mask on the ViT output (16x16 patches) and on the neck's finest and coarsest
levels, and a logistic regression, fitted on three quarters of the objects, names the shape and
the colour of the rest. Accuracy near chance on shape means the trunk carries no shape for the
heads to use, whatever the prompt training does downstream (train.py --aux-shape-weight).
"""

import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import scenes  # noqa: E402
import shapes_model as sm  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", nargs="?", default=os.path.join(HERE, "..", "..", "models", "sam3-shapes"))
    p.add_argument("--scenes", type=int, default=480)
    p.add_argument("--seed", type=int, default=123, help="scene seed (training uses 1234 and its steps)")
    return p.parse_args(argv)


@torch.no_grad()
def object_features(model, rng, n_scenes, batch=8):
    """{level: (objects, C)} mask-averaged features, and the objects' shape and colour indices."""
    feats, shapes, colours = {}, [], []
    for _ in range(0, n_scenes, batch):
        samples = [scenes.sample_image(rng, sm.IMAGE_SIZE, sm.IMAGE_SIZE, n_range=(2, 8))
                   for _ in range(batch)]
        out, fpn, _ = sm.vision_features(model, sm.preprocess(np.stack([s["image"] for s in samples])))
        tokens = out.last_hidden_state
        grid = int(round(tokens.shape[1] ** 0.5))
        levels = {"ViT": tokens.transpose(1, 2).reshape(tokens.shape[0], -1, grid, grid),
                  "neck, finest": fpn[0], "neck, coarsest": fpn[-1]}
        for b, s in enumerate(samples):
            for o in s["objects"]:
                mask = torch.from_numpy(o["mask"].astype(np.float32))[None, None]
                for name, f in levels.items():
                    weight = F.interpolate(mask, size=f.shape[-2:], mode="area")[0, 0]
                    feats.setdefault(name, []).append(
                        ((f[b] * weight).sum((1, 2)) / weight.sum().clamp(min=1e-6)).numpy())
                shapes.append(scenes.SHAPES.index(o["shape"]))
                colours.append(scenes.COLOR_NAMES.index(o["color"]))
    return {k: np.stack(v) for k, v in feats.items()}, np.array(shapes), np.array(colours)


def probe_accuracy(x, y, train):
    """Held-out accuracy of an L2-regularised multinomial logistic regression (LBFGS)."""
    x = torch.from_numpy(x)
    x = (x - x[train].mean(0)) / (x[train].std(0) + 1e-6)
    y = torch.from_numpy(y)
    w = torch.zeros(x.shape[1], int(y.max()) + 1, requires_grad=True)
    b = torch.zeros(int(y.max()) + 1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x[train] @ w + b, y[train]) + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((x[~train] @ w + b).argmax(1) == y[~train]).float().mean())


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)
    model, _ = sm.load_release(args.model)
    model.eval()
    feats, shapes, colours = object_features(model, np.random.default_rng(args.seed), args.scenes)
    train = torch.arange(len(shapes)) < int(0.75 * len(shapes))
    print("%s: %d objects, probes fitted on %d" % (args.model, len(shapes), int(train.sum())))
    print()
    print("| features | shape accuracy | colour accuracy |")
    print("|---|---|---|")
    for name, x in feats.items():
        print("| %s | %.3f | %.3f |" % (name, probe_accuracy(x, shapes, train),
                                        probe_accuracy(x, colours, train)))
    chance = lambda y: np.bincount(y[~train.numpy()]).max() / int((~train).sum())
    print("| chance (most frequent) | %.3f | %.3f |" % (chance(shapes), chance(colours)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
