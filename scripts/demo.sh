#!/usr/bin/env bash
# End to end on a fresh machine: install, make the demo facades set, train pix2pix on the CPU,
# test it, compare L1 with an untrained generator, and print where the result page is and how to draw with the model.
# Overridable: DEMO_EPOCHS (default 8), DEMO_NGF (16), DEMO_NAME (demo_facades_pix2pix), DEMO_DATA (./datasets/demo_facades).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(bash scripts/setup_env.sh | tail -n 1)
py="$venv/bin/python"
data="${DEMO_DATA:-./datasets/demo_facades}"
name="${DEMO_NAME:-demo_facades_pix2pix}"
epochs="${DEMO_EPOCHS:-8}"
half=$((epochs / 2))
arch=(--netG unet_128 --ngf "${DEMO_NGF:-16}" --ndf "${DEMO_NGF:-16}" --load_size 128 --crop_size 128 --gpu_ids -1)
start=$(date +%s)
"$py" datasets/make_demo_dataset.py --out "$data" --size 128 --num_train 200 --num_val 20 --num_test 20
"$py" train.py --dataroot "$data" --name "$name" --model pix2pix --direction BtoA "${arch[@]}" \
  --n_epochs "$half" --n_epochs_decay "$((epochs - half))" --save_epoch_freq "$epochs" --print_freq 200 \
  --display_id 0 --num_threads 2 --fast --seed 0 --overwrite  # a fresh run each time the demo runs
"$py" test.py --dataroot "$data" --name "$name" --model pix2pix --direction BtoA "${arch[@]}" --results_dir ./results/ --fast
"$py" scripts/evaluate_l1.py --dataroot "$data" --name "$name" --model pix2pix --direction BtoA "${arch[@]}" \
  | grep 'mean L1' 
echo "demo finished in $(( $(date +%s) - start )) s"
echo "result page: $(pwd)/results/$name/test_latest/index.html"
echo "draw and translate: $py serve.py --name $name --gpu_ids -1    # then open http://127.0.0.1:8000"
