#!/usr/bin/env bash
# pix2pixHD's method end to end on the CPU: install, make the demo facades as label maps with instance IDs,
# train --model pix2pixhd (small widths, no VGG loss), test it, compare L1 with an untrained generator.
# Overridable: DEMO_EPOCHS (default 8), DEMO_NGF (16), DEMO_NAME (demo_facades_pix2pixhd),
# DEMO_DATA (./datasets/demo_facades_labeled).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(bash scripts/setup_env.sh | tail -n 1)
py="$venv/bin/python"
data="${DEMO_DATA:-./datasets/demo_facades_labeled}"
name="${DEMO_NAME:-demo_facades_pix2pixhd}"
epochs="${DEMO_EPOCHS:-8}"
half=$((epochs / 2))
arch=(--model pix2pixhd --label_nc 12 --ngf "${DEMO_NGF:-16}" --ndf "${DEMO_NGF:-16}" --n_downsample_global 3
      --n_blocks_global 3 --load_size 128 --crop_size 128 --gpu_ids -1)
start=$(date +%s)
"$py" datasets/make_demo_dataset.py --layout labeled --out "$data" --size 128 --num_train 200 --num_val 20 --num_test 20
"$py" train.py --dataroot "$data" --name "$name" "${arch[@]}" --no_vgg_loss \
  --n_epochs "$half" --n_epochs_decay "$((epochs - half))" --save_epoch_freq "$epochs" --print_freq 200 \
  --display_id 0 --num_threads 2 --fast --seed 0
"$py" test.py --dataroot "$data" --name "$name" "${arch[@]}" --results_dir ./results/ --fast
"$py" scripts/evaluate_l1.py --dataroot "$data" --name "$name" "${arch[@]}" | grep 'mean L1'
echo "demo finished in $(( $(date +%s) - start )) s"
echo "result page: $(pwd)/results/$name/test_latest/index.html"
