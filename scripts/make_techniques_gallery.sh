#!/bin/sh
# Regenerates the images of the README (Techniques) (CPU, one thread; ~15 min on a 2-core EPYC).
set -e
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
P=".venv/bin/python -m nst_core"
A=examples/astronaut.png; SN=examples/starry_night.jpg; SC=examples/the_scream.jpg
$P sweep --content $A --style $SN --vary style_loss --values gram mean_cov mmd_poly bn histogram --size 96 --steps 80 --quiet --metrics docs/img/style_losses.json --out docs/img/style_losses.png
$P sweep --content $A --style $SN --style $SC --vary style_blend_weights --values 1,0 1,1 0,1 --size 96 --steps 80 --quiet --out docs/img/blend.png
$P --content $A --style $SN --style $SC --mask docs/img/mask_left.png --mask docs/img/mask_right.png --size 192 --steps 80 --quiet --out docs/img/masks.png
$P sweep --content $A --style $SN --vary edge_weight --values none 0 --style-weight 1000 --size 120 --steps 80 --quiet --metrics docs/img/edges.json --out docs/img/edges.png
$P sweep --mode reconstruct --content $A --vary content_layers --values relu1_1 relu2_1 relu3_1 relu4_1 relu5_1 --size 96 --steps 100 --quiet --out docs/img/reconstruct.png
$P sweep --mode texture --style $SN --vary style_layers --values relu1_1 relu1_1,relu2_1 relu1_1,relu2_1,relu3_1 relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 --size 96 --steps 100 --quiet --out docs/img/texture.png
$P sweep --content $A --style $SN --vary style_weight --values 1 10 100 1000 10000 100000 --size 96 --steps 80 --quiet --out docs/img/style_weight_sweep.png
