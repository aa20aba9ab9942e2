#!/usr/bin/env bash
# The main job end to end on built-in data: check, draw, train LeNet-5 on digits, export, infer.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${DEMO_OUT:-runs/demo}
mkdir -p "$OUT" exported

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "check: shapes, params and MACs of LeNet-5 (no torch import)"
$BIN/netspec check specs/lenet5.yaml

step "check --depth 1: ResNet-18 (torchvision layout) folded to its stages"
$BIN/netspec check specs/resnet18_tv.yaml --depth 1

step "draw"
$BIN/netspec draw specs/lenet5.yaml -o "$OUT/lenet5.svg"
$BIN/netspec draw specs/resnet18_tv.yaml -o "$OUT/resnet18_tv.svg"

step "train LeNet-5 on digits (upsampled to 28x28)"
$BIN/netspec train specs/lenet5.yaml --out runs

step "export the best checkpoint to ONNX (verified on onnxruntime)"
$BIN/netspec export runs/lenet5/latest -o exported/lenet5.onnx

step "infer with onnxruntime alone on a few digits"
$BIN/python - "$OUT" <<'PY'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

out = Path(sys.argv[1])
digits = load_digits()
for i in (0, 1, 2):
    img = (digits.images[-1 - i] / 16.0 * 255).astype(np.uint8)
    Image.fromarray(img).resize((28, 28), Image.NEAREST).save(out / f"digit{i}_is_{digits.target[-1 - i]}.png")
PY
$BIN/netspec infer exported/lenet5.onnx "$OUT"/digit*_is_*.png --top-k 3
