"""Image quality against the ground truth, for test.py and validation alike: L1, PSNR and SSIM per image, means, metrics.json."""
import json
import math
import os

import numpy as np
import torch

from util.html import HTML
from util.util import tensor2im

FID_NOTE = ('FID not computed: it needs Inception weights that are downloaded on first use, '
            'and this project runs offline; compare PSNR and SSIM instead.')


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


class ResultMetrics:
    """Collects L1 (mean |fake - real| in [-1, 1] units), PSNR and SSIM for each input that has a ground truth:
    fake_B against real_B, or for colorization the sRGB photos fake_B_rgb against real_B_rgb."""

    def __init__(self):
        self.rows: list[tuple[str, float, float, float]] = []
        self.compared = ('fake_B', 'real_B')

    def add(self, name: str, visuals: dict[str, torch.Tensor]) -> str:
        """Score the result against the ground truth when both exist; returns a caption for the page row ('' if not)."""
        fake_name, real_name = compared_visuals(visuals)
        if fake_name not in visuals or real_name not in visuals:
            return ''
        self.compared = (fake_name, real_name)
        fake, real = visuals[fake_name], visuals[real_name]
        l1 = float((fake[0].float() - real[0].float()).abs().mean())
        psnr, ssim = psnr_ssim(tensor2im(fake), tensor2im(real))
        self.rows.append((name, l1, psnr, ssim))
        return f'L1 {l1:.4f}, PSNR {psnr:.2f} dB, SSIM {ssim:.4f}'

    def means(self) -> tuple[float, float, float]:
        """Mean L1, PSNR and SSIM over the images."""
        return tuple(float(np.mean([row[column] for row in self.rows])) for column in (1, 2, 3))

    def summary(self) -> dict:
        l1_mean, psnr_mean, ssim_mean = self.means()
        return {
            'count': len(self.rows),
            'l1_mean': l1_mean,
            'psnr_mean': json_number(psnr_mean),
            'ssim_mean': ssim_mean,
            'fid': None,
            'fid_note': FID_NOTE,
            'images': [{'name': name, 'l1': l1, 'psnr': json_number(psnr), 'ssim': ssim}
                       for name, l1, psnr, ssim in self.rows],
        }

    def write_json(self, folder: str) -> str:
        path = os.path.join(folder, 'metrics.json')
        with open(path, 'w') as json_file:
            json.dump(self.summary(), json_file, indent=2, allow_nan=False)
        return path

    def add_to_page(self, webpage: HTML) -> None:
        """A table at the top of the page: one row per image, then the means; and why FID is absent."""
        rows = [[name, f'{l1:.4f}', f'{psnr:.2f}', f'{ssim:.4f}'] for name, l1, psnr, ssim in self.rows]
        rows.append(['mean', *(f'{value:.{digits}f}' for value, digits in zip(self.means(), (4, 2, 4)))])
        webpage.add_summary_table('metrics', f'{self.compared[0]} against {self.compared[1]}', ['image', 'L1', 'PSNR (dB)', 'SSIM'], rows)
        webpage.add_summary_text(FID_NOTE)
