"""FID and KID as pytorch-fid and torchmetrics compute them, --val_metric fid, scripts/evaluate.py, and the paper's
FCN-score, all with Inception weights and segmentation networks the tests make (random values, right structure)."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tiny_runs import TINY_NET, make_aligned_dataset, run_entry

pytestmark = pytest.mark.slow  # entry points end to end: left out of scripts/test.sh --quick

IMAGES = 10
CITYSCAPES_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                       26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}  # Cityscapes' labels.py, written out again


def write_images(folder: Path, seed: int, brightness: int = 0, size: int = 48) -> Path:
    """IMAGES smooth random pictures 000.png... (blurred noise, shifted by `brightness`)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for index in range(IMAGES):
        coarse = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        image = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR)).astype(int) + brightness
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(folder / f'{index:03d}.png')
    return folder


def evaluate(*args: str, torch_home: str):
    return run_entry('scripts/evaluate.py', *args, '--gpu_ids', '-1', env={'TORCH_HOME': torch_home})


def kid_written_out(real: np.ndarray, fake: np.ndarray) -> float:
    """The unbiased MMD^2 of KID's cubic polynomial kernel (x.y / d + 1)^3 over the whole sets (equal sizes)."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    kernel = lambda a, b: (a @ b.T / a.shape[1] + 1) ** 3  # noqa: E731
    n = len(real)
    k_rr, k_ff, k_rf = kernel(real, real), kernel(fake, fake), kernel(real, fake)
    off_diagonal = (k_rr.sum() - np.trace(k_rr) + k_ff.sum() - np.trace(k_ff)) / (n * (n - 1))
    return float(off_diagonal - 2 * k_rf.mean())


def fid_written_out(real: np.ndarray, fake: np.ndarray) -> float:
    """The Frechet distance of Gaussians fitted to the two sets: |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2),
    the last trace from the eigenvalues of the symmetric S1^1/2 S2 S1^1/2 (as pytorch-fid's sqrtm, without its cost)."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    s1, s2 = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    values, vectors = np.linalg.eigh(s1)
    root = (vectors * np.sqrt(values.clip(0))) @ vectors.T
    cross = np.linalg.eigvalsh(root @ s2 @ root).clip(0)
    return float(((real.mean(0) - fake.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(cross).sum())


def test_fid_and_kid_equal_the_formulas_on_pytorch_fid_features_of_the_same_files(tmp_path, fid_inception_cache,
                                                                                monkeypatch):
    from pytorch_fid.fid_score import get_activations
    from pytorch_fid.inception import InceptionV3

    from util.metrics import frechet_inception_distance

    real, fake = write_images(tmp_path / 'real', seed=1), write_images(tmp_path / 'fake', seed=2, brightness=40)
    evaluate('--real', str(real), '--fake', str(fake), '--json', str(tmp_path / 'two.json'),
             torch_home=fid_inception_cache)
    two = json.loads((tmp_path / 'two.json').read_text())['images']
    assert two['count'] == IMAGES and two['l1_mean'] > 0

    monkeypatch.setenv('TORCH_HOME', fid_inception_cache)
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    features = [get_activations(sorted(map(str, folder.glob('*.png'))), model, 50, 2048, 'cpu', num_workers=0)
                for folder in (real, fake)]
    expected_fid = fid_written_out(*features)
    assert expected_fid > 1 and two['fid'] == pytest.approx(expected_fid, rel=0.01)
    expected_kid = kid_written_out(*features)
    assert expected_kid > 0 and two['kid'] == pytest.approx(expected_kid, rel=0.01)
    assert abs(frechet_inception_distance(features[0], features[0])) < 1e-3  # a set against itself


def test_test_eval_adds_fid_and_kid_and_without_weights_still_writes_the_rest(tmp_path, tiny_experiment,
                                                                               fid_inception_cache):
    dataroot = tiny_experiment.parent / 'data'
    training_record = (tiny_experiment / 'tiny' / 'train_opt.txt').read_bytes()
    common = ['--dataroot', str(dataroot), '--name', 'tiny', '--checkpoints_dir', str(tiny_experiment), '--phase',
              'train', '--eval']
    offline = run_entry('test.py', *common, '--results_dir', str(tmp_path / 'offline'),
                        env={'TORCH_HOME': str(tmp_path / 'empty_torch_home')})
    missing = [line for line in offline.stdout.splitlines() if 'pt_inception-2015-12-05-6726825d.pth' in line]
    assert len(missing) == 1 and 'not computed' in missing[0] and 'https://github.com/mseitzer' in missing[0], \
        offline.stdout
    offline_metrics = json.loads((tmp_path / 'offline' / 'tiny' / 'train_latest' / 'metrics.json').read_text())
    assert offline_metrics['fid'] is None and offline_metrics['kid'] is None and offline_metrics['count'] == 2
    assert offline_metrics['l1_mean'] > 0 and offline_metrics['ssim_mean'] is not None

    run_entry('test.py', *common, '--results_dir', str(tmp_path / 'scored'), env={'TORCH_HOME': fid_inception_cache})
    results = tmp_path / 'scored' / 'tiny' / 'train_latest'
    metrics = json.loads((results / 'metrics.json').read_text())
    assert metrics['fid'] > 0 and metrics['kid'] is not None and 'fid_note' not in metrics
    assert metrics['l1_mean'] == pytest.approx(offline_metrics['l1_mean'])
    evaluate('--real', str(results / 'images'), '--real_glob', '*_real_B.png', '--fake', str(results / 'images'),
             '--fake_glob', '*_fake_B.png', '--json', str(tmp_path / 'files.json'), torch_home=fid_inception_cache)
    from_files = json.loads((tmp_path / 'files.json').read_text())['images']
    assert from_files['fid'] == pytest.approx(metrics['fid'], rel=1e-4)  # the saved PNGs are the scored images
    assert from_files['kid'] == pytest.approx(metrics['kid'], rel=1e-4, abs=1e-9)
    assert f'FID {metrics["fid"]:.3f}' in (results / 'index.html').read_text()
    assert (tiny_experiment / 'tiny' / 'train_opt.txt').read_bytes() == training_record  # --phase train kept it
    assert (tiny_experiment / 'tiny' / 'test_train_opt.txt').is_file()


def test_val_metric_fid_keeps_as_best_the_epoch_with_the_lowest_logged_fid(tmp_path, fid_inception_cache):
    dataroot = make_aligned_dataset(tmp_path / 'data', {'train': 2, 'val': 3}, seed=4)
    checkpoints = tmp_path / 'checkpoints'
    result = run_entry('train.py', '--dataroot', str(dataroot), '--name', 'fid', '--checkpoints_dir', str(checkpoints),
                       *TINY_NET, '--n_epochs', '4', '--n_epochs_decay', '0', '--no_html', '--save_epoch_freq', '1',
                       '--val_metric', 'fid', '--init_type', 'kaiming', '--lr', '0.01', '--seed', '1', cwd=tmp_path,
                       env={'TORCH_HOME': fid_inception_cache})
    experiment = checkpoints / 'fid'
    logged = re.findall(r'\(val epoch: (\d+),.* L1: ([\d.]+) .* FID: ([\d.]+)', (experiment / 'loss_log.txt').read_text())
    fid = {int(epoch): float(value) for epoch, _, value in logged}
    l1 = {int(epoch): float(value) for epoch, value, _ in logged}
    assert sorted(fid) == [1, 2, 3, 4] and len(set(fid.values())) == 4, fid
    best_epoch = min(fid, key=fid.get)
    assert best_epoch not in (4, min(l1, key=l1.get)), (fid, l1)  # neither the last epoch nor the L1 pick
    picks = re.findall(r'best validation FID so far \(([\d.]+), epoch (\d+)\)', result.stdout)
    assert int(picks[-1][1]) == best_epoch and float(picks[-1][0]) == pytest.approx(fid[best_epoch], abs=1e-4)
    best = torch.load(experiment / 'best_net_G.pth', weights_only=True)
    chosen = torch.load(experiment / f'{best_epoch}_net_G.pth', weights_only=True)
    assert all(torch.equal(best[key], chosen[key]) for key in best)
    state = torch.load(experiment / 'best_train_state.pth', weights_only=True)['progress']
    assert state['best_val_metric'] == 'fid' and state['best_val'] == pytest.approx(fid[best_epoch], abs=1e-4)


class PixelScorer(torch.nn.Module):
    """A segmentation network small enough to write out: a 1x1 convolution from RGB to 19 class scores."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.scores = torch.nn.Conv2d(3, 19, 1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.scores(image)


def confusion_written_out(network: torch.nn.Module, photos: list[np.ndarray], labels: list[np.ndarray]) -> np.ndarray:
    confusion = np.zeros((19, 19), dtype=np.int64)
    for photo, label in zip(photos, labels):
        with torch.no_grad():
            predicted = network(torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255)[0].argmax(0).numpy()
        for y in range(label.shape[0]):
            for x in range(label.shape[1]):
                if int(label[y, x]) in CITYSCAPES_TRAIN_ID:
                    confusion[CITYSCAPES_TRAIN_ID[int(label[y, x])], predicted[y, x]] += 1
    return confusion


@pytest.mark.parametrize('runtime', ['torchscript', 'onnx'])
def test_fcn_score_equals_the_three_numbers_of_a_confusion_matrix_written_out(tmp_path, runtime):
    network = PixelScorer().eval()
    segmenter = tmp_path / ('segmenter.pt' if runtime == 'torchscript' else 'segmenter.onnx')
    if runtime == 'torchscript':
        torch.jit.script(network).save(str(segmenter))
    else:
        torch.onnx.export(network, (torch.rand(1, 3, 16, 24),), str(segmenter), dynamo=False,
                          input_names=['image'], dynamic_axes={'image': {2: 'height', 3: 'width'}})
    rng = np.random.default_rng(5)
    (tmp_path / 'fake').mkdir()
    (tmp_path / 'labels').mkdir()
    photos, labels = [], []
    for index in range(3):
        photo = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
        label = rng.integers(0, 40, (16, 24), dtype=np.uint8)  # 0-6, 9, 10, 34-39...: not among the 19, ignored
        Image.fromarray(photo).save(tmp_path / 'fake' / f'city_{index}_synthesized_image.png')
        Image.fromarray(label).save(tmp_path / 'labels' / f'city_{index}_gtFine_labelIds.png')
        photos.append(photo)
        labels.append(label)
    run_entry('scripts/evaluate.py', '--fake', str(tmp_path / 'fake'), '--labels', str(tmp_path / 'labels'),
              '--segmenter', str(segmenter), '--gpu_ids', '-1', '--json', str(tmp_path / 'fcn.json'))
    scores = json.loads((tmp_path / 'fcn.json').read_text())['fcn_score']

    confusion = confusion_written_out(network, photos, labels)
    counted = sum(int(label_id) in CITYSCAPES_TRAIN_ID for label in labels for label_id in label.flat)
    assert confusion.sum() == counted < 3 * 16 * 24  # the ignored IDs are left out
    per_class = [confusion[c, c] / confusion[c].sum() if confusion[c].sum() else 0.0 for c in range(19)]
    iou = [confusion[c, c] / (confusion[c].sum() + confusion[:, c].sum() - confusion[c, c])
           if confusion[c].sum() + confusion[:, c].sum() else 0.0 for c in range(19)]
    assert scores['per_pixel_accuracy'] == pytest.approx(np.trace(confusion) / confusion.sum(), abs=1e-12)
    assert scores['per_class_accuracy'] == pytest.approx(np.mean(per_class), abs=1e-12)
    assert scores['class_iou'] == pytest.approx(np.mean(iou), abs=1e-12)


def test_evaluate_names_the_file_without_a_partner_or_that_cannot_be_read(tmp_path):
    real, fake = write_images(tmp_path / 'real', seed=1), write_images(tmp_path / 'fake', seed=2)
    (real / '004.png').unlink()
    missing = run_entry('scripts/evaluate.py', '--real', str(real), '--fake', str(fake), '--gpu_ids', '-1', check=False)
    assert missing.returncode == 2 and missing.stderr.count('\n') == 1, missing.stderr
    assert str(fake / '004.png') in missing.stderr and 'no partner' in missing.stderr

    (fake / '004.png').unlink()
    (fake / '002.png').write_bytes(b'not a png')
    unreadable = run_entry('scripts/evaluate.py', '--real', str(real), '--fake', str(fake), '--gpu_ids', '-1',
                           check=False)
    assert unreadable.returncode == 2 and unreadable.stderr.count('\n') == 1, unreadable.stderr
    assert str(fake / '002.png') in unreadable.stderr and 'cannot be read' in unreadable.stderr
