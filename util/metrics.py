"""Image quality against the ground truth, for test.py, validation and scripts/evaluate.py alike.

Per image: L1, PSNR and SSIM. Over the set: FID and KID as published tables compute them: pytorch-fid's Inception
network, weights and resizing give the features, torchmetrics the two distances. And the pix2pix paper's FCN-score for Cityscapes
labels -> photo: a segmentation network the user supplies, scored against the label maps.
"""
import contextlib
import itertools
import json
import math
import os
import tempfile
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from util.html import HTML
from util.errors import UserError
from util.util import tensor2im

FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth'  # pytorch-fid's Inception, the one FID tables use
FID_BATCH = 50  # pytorch-fid's default batch
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # the usual subsets (torch-fidelity's and torchmetrics' defaults)
METRIC_LOWER_IS_BETTER = {'l1': True, 'psnr': False, 'ssim': False, 'fid': True}


def psnr_ssim(fake: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of two HxWx3 uint8 images, as seen in the saved PNGs."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity  # here: loading it takes a second

    psnr = peak_signal_noise_ratio(real, fake, data_range=255)
    side = min(real.shape[:2])
    win_size = min(7, side if side % 2 else side - 1)
    ssim = structural_similarity(real, fake, data_range=255, channel_axis=2, win_size=win_size)
    return float(psnr), float(ssim)


def json_number(value: float) -> float | None:
    """Finite floats as they are; infinity (identical images) as null, which JSON can hold."""
    return value if math.isfinite(value) else None


def compared_visuals(visuals: dict) -> tuple[str, str]:
    """The (result, ground truth) labels to score: the sRGB photos where the model shows them (colorization)."""
    return ('fake_B_rgb', 'real_B_rgb') if 'fake_B_rgb' in visuals else ('fake_B', 'real_B')


@contextlib.contextmanager
def hub_holding(weights: str | None):
    """torch's hub cache as pytorch-fid reads it: the user's, or for --fid_weights a temporary TORCH_HOME holding
    that file under its name."""
    if weights is None:
        yield
        return
    if not os.path.isfile(weights):
        raise UserError(f'--fid_weights {weights}: no such file; give the path of a copy of {FID_WEIGHTS_FILE}')
    previous = os.environ.get('TORCH_HOME')
    with tempfile.TemporaryDirectory() as home:
        os.makedirs(os.path.join(home, 'hub', 'checkpoints'))
        os.symlink(os.path.abspath(weights), os.path.join(home, 'hub', 'checkpoints', FID_WEIGHTS_FILE))
        os.environ['TORCH_HOME'] = home
        try:
            yield
        finally:
            if previous is None:
                del os.environ['TORCH_HOME']
            else:
                os.environ['TORCH_HOME'] = previous


def load_inception(weights: str | None, device: torch.device) -> nn.Module:
    """pytorch-fid's InceptionV3 up to pool3 (2048 features), weights from --fid_weights, else torch's hub cache
    (downloaded there when online); one line naming the file, where it goes and where to get it, when neither works."""
    from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3

    cached = os.path.join(torch.hub.get_dir(), 'checkpoints', FID_WEIGHTS_FILE)
    try:
        if weights is None and not os.path.isfile(cached):
            os.makedirs(os.path.dirname(cached), exist_ok=True)
            torch.hub.download_url_to_file(FID_WEIGHTS_URL, cached)
        with hub_holding(weights), torch.random.fork_rng(devices=[]):  # its layers' initialization draws numbers
            net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    except OSError as err:
        raise UserError(f'FID and KID need {FID_WEIGHTS_FILE}, which is not in {os.path.dirname(cached)} and could not '
                        f'be downloaded ({getattr(err, "reason", err)}); on a machine with internet download '
                        f'{FID_WEIGHTS_URL}, then put it there or pass --fid_weights PATH') from err
    except (RuntimeError, ValueError, EOFError) as err:  # not a state dict, or one of another network
        raise UserError(f'{weights or cached} is not pytorch-fid\'s Inception weights '
                        f'({str(err).strip().splitlines()[0]}); replace it with {FID_WEIGHTS_FILE}') from err
    return net.to(device).eval()


class InceptionFeatures:
    """pool3 features of 8-bit RGB images as pytorch-fid computes them: values / 255, resized to 299 in the network."""

    def __init__(self, weights: str | None, device: torch.device):
        self.net = load_inception(weights, device)
        self.device = device

    @torch.no_grad()
    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        """An N x 2048 float32 array for N HxWx3 uint8 images (images of one size go through as one batch)."""
        rows = []
        for _, same_size in itertools.groupby(images, key=lambda image: image.shape):
            batch = torch.from_numpy(np.stack(list(same_size))).to(self.device).permute(0, 3, 1, 2).float() / 255
            rows.append(self.net(batch)[0].flatten(1).cpu().numpy())
        return np.concatenate(rows)


class FeatureSet:
    """Inception features of images given one at a time, extracted FID_BATCH at a time."""

    def __init__(self, extract: InceptionFeatures):
        self.extract = extract
        self.pending: list[np.ndarray] = []
        self.done: list[np.ndarray] = []

    def add(self, image: np.ndarray) -> None:
        self.pending.append(image)
        if len(self.pending) == FID_BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.done.append(self.extract(self.pending))
            self.pending = []

    def array(self) -> np.ndarray:
        self.flush()
        return np.concatenate(self.done) if self.done else np.zeros((0, 2048), np.float32)


class GivenFeatures(nn.Identity):
    """torchmetrics' feature extractor, stood in for: the Inception features, extracted already, pass through."""
    num_features = 2048


def frechet_inception_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """FID from two N x 2048 feature arrays, by torchmetrics: the Frechet distance of pytorch-fid, through the
    eigenvalues of the covariance product (pytorch-fid's scipy sqrtm gives the same within 1e-7, 5x slower)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    metric = FrechetInceptionDistance(feature=GivenFeatures())
    metric.update(torch.from_numpy(real), real=True)
    metric.update(torch.from_numpy(fake), real=False)
    return float(metric.compute())


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """KID (mean, std) by torchmetrics over KID_SUBSETS subsets of KID_SUBSET_SIZE (fewer when the sets are
    smaller), with a fixed seed so that the same images give the same number and training's random state is kept."""
    from torchmetrics.image.kid import KernelInceptionDistance

    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # its note that the features are kept in memory
        metric = KernelInceptionDistance(feature=GivenFeatures(), subsets=KID_SUBSETS,
                                         subset_size=min(KID_SUBSET_SIZE, len(real), len(fake)))
    metric.update(torch.from_numpy(real).double(), real=True)
    metric.update(torch.from_numpy(fake).double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        mean, std = metric.compute()
    return float(mean), float(std)


class SetScores:
    """FID and KID of the results against the ground truth, from features gathered image by image. The ground
    truth's features may be given, computed once (validation reuses them every epoch)."""

    def __init__(self, extract: InceptionFeatures, real_features: np.ndarray | None = None):
        self.fake = FeatureSet(extract)
        self.real = FeatureSet(extract) if real_features is None else None
        self.known_real = real_features

    def add(self, fake: np.ndarray, real: np.ndarray) -> None:
        self.fake.add(fake)
        if self.real is not None:
            self.real.add(real)

    def real_features(self) -> np.ndarray:
        return self.known_real if self.real is None else self.real.array()

    def scores(self) -> dict[str, float | None]:
        """fid, kid and kid_std; None for each when either set has fewer than 2 images (no covariance)."""
        real, fake = self.real_features(), self.fake.array()
        if min(len(real), len(fake)) < 2:
            return {'fid': None, 'kid': None, 'kid_std': None}
        kid, kid_std = kernel_inception_distance(real, fake)
        return {'fid': frechet_inception_distance(real, fake), 'kid': kid, 'kid_std': kid_std}


def describe_distances(distances: dict[str, float]) -> str:
    """FID and KID (with its std over the subsets) as every output shows them."""
    return f'FID {distances["fid"]:.3f}, KID {distances["kid"]:.5f} ± {distances["kid_std"]:.5f}'


def start_set_scores(weights: str | None, device: torch.device) -> tuple[SetScores | None, str]:
    """SetScores for test.py --eval and evaluate.py, or (None, why) when the Inception weights are missing: the
    other metrics are still written."""
    try:
        return SetScores(InceptionFeatures(weights, device)), ''
    except UserError as err:
        note = f'FID and KID not computed: {err}'
        print(note)
        return None, note


class ResultMetrics:
    """Collects L1 (mean |fake - real| in [-1, 1] units), PSNR and SSIM for each input that has a ground truth:
    fake_B against real_B, or for colorization the sRGB photos fake_B_rgb against real_B_rgb; with `set_scores`,
    FID and KID over all of them too."""

    def __init__(self, set_scores: SetScores | None = None, note: str = 'FID and KID are computed with --eval'):
        self.rows: list[tuple[str, float, float, float]] = []
        self.compared = ('fake_B', 'real_B')
        self.set_scores = set_scores
        self.note = note
        self.distances: dict[str, float | None] = {}

    def add(self, name: str, visuals: dict[str, torch.Tensor]) -> str:
        """Score the result against the ground truth when both exist; returns a caption for the page row ('' if not)."""
        fake_name, real_name = compared_visuals(visuals)
        if fake_name not in visuals or real_name not in visuals:
            return ''
        self.compared = (fake_name, real_name)
        fake, real = visuals[fake_name], visuals[real_name]
        l1 = float((fake[0].float() - real[0].float()).abs().mean())
        return self.add_scored(name, tensor2im(fake), tensor2im(real), l1)

    def add_images(self, name: str, fake: np.ndarray, real: np.ndarray) -> str:
        """The same for two 8-bit images as saved (scripts/evaluate.py): L1 in [-1, 1] units of their values."""
        return self.add_scored(name, fake, real, float(np.abs(fake.astype(np.float64) - real).mean() / 127.5))

    def add_scored(self, name: str, fake: np.ndarray, real: np.ndarray, l1: float) -> str:
        psnr, ssim = psnr_ssim(fake, real)
        self.rows.append((name, l1, psnr, ssim))
        if self.set_scores:
            self.set_scores.add(fake, real)
        return f'L1 {l1:.4f}, PSNR {psnr:.2f} dB, SSIM {ssim:.4f}'

    def means(self) -> tuple[float, float, float]:
        """Mean L1, PSNR and SSIM over the images."""
        return tuple(float(np.mean([row[column] for row in self.rows])) for column in (1, 2, 3))

    def set_distances(self) -> dict[str, float | None]:
        """FID, KID and KID's std over the images, computed once all are in; None each without set_scores."""
        if not self.distances:
            self.distances = self.set_scores.scores() if self.set_scores else dict.fromkeys(('fid', 'kid', 'kid_std'))
            if self.set_scores and self.distances['fid'] is None:
                self.note = 'FID and KID not computed: they need at least 2 images'
        return self.distances

    def describe(self) -> str:
        """One line of the means (and FID and KID when computed)."""
        l1_mean, psnr_mean, ssim_mean = self.means()
        line = f'mean L1 {l1_mean:.4f}, PSNR {psnr_mean:.2f} dB, SSIM {ssim_mean:.4f}'
        distances = self.set_distances()
        if distances['fid'] is not None:
            line += f', {describe_distances(distances)}'
        return f'{line} over {len(self.rows)} images'

    def summary(self) -> dict:
        l1_mean, psnr_mean, ssim_mean = self.means()
        distances = self.set_distances()
        return {
            'count': len(self.rows),
            'l1_mean': l1_mean,
            'psnr_mean': json_number(psnr_mean),
            'ssim_mean': ssim_mean,
            **distances,
            **({'fid_note': self.note} if distances['fid'] is None else {}),
            'images': [{'name': name, 'l1': l1, 'psnr': json_number(psnr), 'ssim': ssim}
                       for name, l1, psnr, ssim in self.rows],
        }

    def write_json(self, path: str) -> str:
        with open(path, 'w') as json_file:
            json.dump(self.summary(), json_file, indent=2, allow_nan=False)
        return path

    def add_to_page(self, webpage: HTML) -> None:
        """A table at the top of the page: one row per image, then the means; FID and KID, or why they are absent."""
        rows = [[name, f'{l1:.4f}', f'{psnr:.2f}', f'{ssim:.4f}'] for name, l1, psnr, ssim in self.rows]
        rows.append(['mean', *(f'{value:.{digits}f}' for value, digits in zip(self.means(), (4, 2, 4)))])
        webpage.add_summary_table('metrics', f'{self.compared[0]} against {self.compared[1]}', ['image', 'L1', 'PSNR (dB)', 'SSIM'], rows)
        distances = self.set_distances()
        if distances['fid'] is None:
            webpage.add_summary_text(self.note)
        else:
            webpage.add_summary_text(f'{describe_distances(distances)} '
                                     f'over {len(self.rows)} images (pytorch-fid\'s Inception; KID over '
                                     f'{KID_SUBSETS} subsets)')


CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign',
                      'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
                      'bicycle')
CITYSCAPES_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)  # of train IDs 0..18
IGNORED = 255


def cityscapes_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Cityscapes label IDs (gtFine_labelIds) as its 19 train IDs; every other ID (void, license plate...) as 255."""
    lookup = np.full(max(int(label_ids.max()) + 1, 256), IGNORED, np.uint8)
    lookup[list(CITYSCAPES_LABEL_IDS)] = np.arange(len(CITYSCAPES_LABEL_IDS))
    return lookup[label_ids]


class Segmenter:
    """The segmentation network of the FCN-score, supplied by the user as TorchScript (.pt, .pth, .ts) or ONNX
    (.onnx): a 1x3xHxW float RGB image in [0, 1] in, 1x19xH'xW' scores over Cityscapes' train IDs out (scores
    of another size are resized to HxW)."""

    def __init__(self, path: str, device: torch.device):
        self.path, self.device = path, device
        try:
            if path.lower().endswith('.onnx'):
                import onnxruntime
                self.session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
            else:
                self.module = torch.jit.load(path, map_location=device).eval()
        except Exception as err:  # each runtime raises its own types for a missing or foreign file
            raise UserError(f'--segmenter {path} cannot be loaded as TorchScript or ONNX '
                            f'({str(err).strip().splitlines()[0]}); give a .pt TorchScript or .onnx file') from err

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The HxW train IDs predicted for an HxWx3 uint8 image."""
        batch = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        if hasattr(self, 'session'):
            scores = torch.from_numpy(self.session.run(None, {self.session.get_inputs()[0].name: batch.numpy()})[0])
        else:
            scores = self.module(batch.to(self.device)).float().cpu()
        if scores.dim() != 4 or scores.shape[1] != len(CITYSCAPES_CLASSES):
            raise UserError(f'--segmenter {self.path} gave scores of shape {tuple(scores.shape)}; the FCN-score needs '
                            f'1x{len(CITYSCAPES_CLASSES)}xHxW, one channel per Cityscapes train ID')
        if scores.shape[2:] != image.shape[:2]:
            scores = F.interpolate(scores, size=image.shape[:2], mode='bilinear', align_corners=False)
        return scores.argmax(1)[0].numpy()


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """19 x 19 pixel counts, rows the label's train ID, columns the prediction; pixels labelled 255 left out."""
    classes = len(CITYSCAPES_CLASSES)
    kept = truth < classes
    pairs = classes * truth[kept].astype(np.int64) + predicted[kept]
    return np.bincount(pairs, minlength=classes ** 2).reshape(classes, classes)


def fcn_scores(confusion: np.ndarray) -> dict:
    """The paper's three columns, as the reference's scripts/eval_cityscapes computes them: per-pixel accuracy, and
    per-class accuracy and class IoU averaged over all 19 classes (a class the labels lack counts as 0)."""
    hits = np.diag(confusion).astype(np.float64)
    class_accuracy = hits / np.maximum(confusion.sum(axis=1), 1)
    class_iou = hits / np.maximum(confusion.sum(axis=1) + confusion.sum(axis=0) - hits, 1)
    return {
        'per_pixel_accuracy': float(hits.sum() / max(confusion.sum(), 1)),
        'per_class_accuracy': float(class_accuracy.mean()),
        'class_iou': float(class_iou.mean()),
        'classes': {name: {'accuracy': float(accuracy), 'iou': float(iou)}
                    for name, accuracy, iou in zip(CITYSCAPES_CLASSES, class_accuracy, class_iou)},
    }
