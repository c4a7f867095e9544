"""CIE Lab for colorization, through scikit-image as the reference converts: the network sees L scaled to [-1, 1]
(L / 50 - 1) and predicts ab scaled by 1/110; the two are put back together and shown as sRGB."""
import warnings

import numpy as np
import torch
from skimage import color

from util.image_io import DeepOrPil, is_deep

L_HALF_RANGE = 50.0
AB_SCALE = 110.0


def rgb_array(image: DeepOrPil) -> np.ndarray:
    """An RGB PIL image (uint8) or a 3xHxW tensor in [0, 1] (float) as an HxWx3 array."""
    return image.permute(1, 2, 0).numpy() if is_deep(image) else np.asarray(image)


def rgb_to_lab(rgb: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """An HxWx3 sRGB array (uint8, uint16 or float in [0, 1]) as L (1xHxW, in [-1, 1]) and ab (2xHxW, ab / 110)."""
    lab = torch.from_numpy(color.rgb2lab(rgb).astype(np.float32).transpose(2, 0, 1))
    return lab[:1] / L_HALF_RANGE - 1.0, lab[1:] / AB_SCALE


def lab_to_rgb(lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Nx1xHxW L and Nx2xHxW ab, scaled as the network sees them, as Nx3xHxW sRGB in [-1, 1] on L's device.

    Colours outside the sRGB gamut are clipped, as scikit-image does (its warning about it is expected here:
    a generator's ab need not be a colour that exists at that lightness)."""
    lab = torch.cat([(lightness.detach().float() + 1.0) * L_HALF_RANGE, ab.detach().float() * AB_SCALE], dim=1)
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*negative Z values.*')
        rgb = np.stack([color.lab2rgb(image.transpose(1, 2, 0)) for image in lab.cpu().numpy().astype(np.float64)])
    return torch.from_numpy(rgb.transpose(0, 3, 1, 2)).float().to(lightness.device) * 2.0 - 1.0
