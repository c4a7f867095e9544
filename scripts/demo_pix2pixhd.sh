#!/usr/bin/env bash
# pix2pixHD's method end to end on the CPU: install, make the demo facades as label maps with instance IDs,
# train --model pix2pixhd (small widths, no VGG loss, 8 epochs), test it, compare L1 with an untrained generator.
set -euo pipefail
cd "$(dirname "$0")/.."
py="$(bash scripts/setup_env.sh | tail -n 1)/bin/python"
start=$(date +%s)
set -- --dataroot ./datasets/demo_facades_labeled --name demo_facades_pix2pixhd --model pix2pixhd --label_nc 12 \
  --ngf 16 --ndf 16 --n_downsample_global 3 --n_blocks_global 3 --load_size 128 --crop_size 128 --gpu_ids -1
"$py" datasets/make_demo_dataset.py --layout labeled --size 128 --num_train 200 --num_val 20 --num_test 20
"$py" train.py "$@" --no_vgg_loss --n_epochs 4 --n_epochs_decay 4 --save_epoch_freq 8 --print_freq 200 \
  --display_id 0 --num_threads 2 --fast --seed 0 --overwrite
"$py" test.py "$@" --results_dir ./results/ --fast
"$py" scripts/evaluate_l1.py "$@" | grep 'mean L1'
echo "demo finished in $(( $(date +%s) - start )) s"
echo "result page: $(pwd)/results/demo_facades_pix2pixhd/test_latest/index.html"
