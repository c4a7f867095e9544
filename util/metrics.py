"""Image quality of test results against the ground truth: PSNR and SSIM per image, their means, metrics.json."""
import json
import math
import os

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from util.html import HTML
from util.util import tensor2im

FID_NOTE = ('FID not computed: it needs Inception weights that are downloaded on first use, '
            'and this project runs offline; compare PSNR and SSIM instead.')


def psnr_ssim(fake: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of two HxWx3 uint8 images, as seen in the saved PNGs."""
    psnr = peak_signal_noise_ratio(real, fake, data_range=255)
    side = min(real.shape[:2])
    win_size = min(7, side if side % 2 else side - 1)
    ssim = structural_similarity(real, fake, data_range=255, channel_axis=2, win_size=win_size)
    return float(psnr), float(ssim)


def json_number(value: float) -> float | None:
    """Finite floats as they are; infinity (identical images) as null, which JSON can hold."""
    return value if math.isfinite(value) else None


class ResultMetrics:
    """Collects PSNR and SSIM of fake_B against real_B for each test input that has a real_B."""

    def __init__(self):
        self.rows: list[tuple[str, float, float]] = []

    def add(self, name: str, visuals: dict[str, torch.Tensor]) -> str:
        """Score fake_B against real_B when both exist; returns a caption for the page row ('' if not)."""
        if 'fake_B' not in visuals or 'real_B' not in visuals:
            return ''
        psnr, ssim = psnr_ssim(tensor2im(visuals['fake_B']), tensor2im(visuals['real_B']))
        self.rows.append((name, psnr, ssim))
        return f'PSNR {psnr:.2f} dB, SSIM {ssim:.4f}'

    def means(self) -> tuple[float, float]:
        return float(np.mean([row[1] for row in self.rows])), float(np.mean([row[2] for row in self.rows]))

    def summary(self) -> dict:
        psnr_mean, ssim_mean = self.means()
        return {
            'count': len(self.rows),
            'psnr_mean': json_number(psnr_mean),
            'ssim_mean': ssim_mean,
            'fid': None,
            'fid_note': FID_NOTE,
            'images': [{'name': name, 'psnr': json_number(psnr), 'ssim': ssim} for name, psnr, ssim in self.rows],
        }

    def write_json(self, folder: str) -> str:
        path = os.path.join(folder, 'metrics.json')
        with open(path, 'w') as json_file:
            json.dump(self.summary(), json_file, indent=2, allow_nan=False)
        return path

    def add_to_page(self, webpage: HTML) -> None:
        """A table at the top of the page: one row per image, then the means; and why FID is absent."""
        psnr_mean, ssim_mean = self.means()
        rows = [[name, f'{psnr:.2f}', f'{ssim:.4f}'] for name, psnr, ssim in self.rows]
        rows.append(['mean', f'{psnr_mean:.2f}', f'{ssim_mean:.4f}'])
        webpage.add_summary_table('metrics', 'fake_B against real_B', ['image', 'PSNR (dB)', 'SSIM'], rows)
        webpage.add_summary_text(FID_NOTE)
