"""A user's own code, named by import paths in the bring-your-own tests' recipes."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset


def make_teacher(input_shape, num_classes, width: int = 32):
    """A teacher architecture: flatten → hidden layer → logits."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), width), nn.ReLU(),
                         nn.Linear(width, num_classes))


def pretrained_teacher(weights: str, width: int = 32):
    """A ready teacher: the user's code loads its own weights (no input_shape/num_classes asked)."""
    from safetensors.torch import load_file

    model = make_teacher((1, 8, 8), 10, width)
    model.load_state_dict(load_file(weights))
    return model


def tiny_student(input_shape, num_classes):
    """A student architecture the built-in families do not have: one linear map."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))


def digits_splits(seed: int = 0):
    """scikit-learn digits as flat (64,) vectors, in torch Datasets: labelled train/test + unlabelled."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = torch.from_numpy((d.data / 16).astype(np.float32)), torch.from_numpy(d.target)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(x)))
    tr, te, un = order[:600], order[600:900], order[900:1300]
    return {"train": TensorDataset(x[tr], y[tr]), "test": TensorDataset(x[te], y[te]),
            "unlabeled": TensorDataset(x[un])}


def not_a_dataset():
    return 42
