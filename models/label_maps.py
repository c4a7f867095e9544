"""Semantic label maps as generator inputs, as pix2pixHD feeds them: one-hot label channels plus an instance-edge
channel, built on the device; and a colour rendering of label maps for the pages."""
import numpy as np
import torch
from PIL import Image

from util.errors import UserError
from util.image_io import check_id_map, read_id_map


def read_label_ids(path: str) -> torch.Tensor:
    """A label (or instance) ID map file as a 1xHxW float tensor of the IDs (util.image_io.read_id_map reads it)."""
    return ids_tensor(read_id_map(path))


def label_ids_of(image: Image.Image, source: str) -> torch.Tensor:
    """A decoded label image's raw IDs (never a palette's colours) as a 1xHxW float tensor; `source` names it in errors."""
    return ids_tensor(check_id_map(np.asarray(image), source))


def ids_tensor(ids: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(ids.astype(np.float32))[None]


def check_label_range(labels: torch.Tensor, label_nc: int, sources: list[str]) -> None:
    """One line naming the first map with an ID outside 0..label_nc - 1."""
    bad = (labels.amax(dim=(1, 2, 3)) >= label_nc) | (labels.amin(dim=(1, 2, 3)) < 0)
    if bad.any():
        index = int(bad.nonzero()[0])
        found = int(labels[index].max())
        raise UserError(f'label map {sources[index]} holds label ID {found}, outside 0..{label_nc - 1}; '
                        f'set --label_nc to the number of classes (above {found})')


def one_hot(labels: torch.Tensor, label_nc: int) -> torch.Tensor:
    """Nx1xHxW label IDs to NxLxHxW channels of 0 and 1."""
    encoded = torch.zeros(labels.shape[0], label_nc, *labels.shape[2:], device=labels.device)
    return encoded.scatter_(1, labels.long(), 1.0)


def instance_edges(instances: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's boundary map: 1 where a pixel's instance ID differs from one of its 4 neighbours, else 0."""
    edge = torch.zeros_like(instances, dtype=torch.bool)
    horizontal = instances[..., :, 1:] != instances[..., :, :-1]
    vertical = instances[..., 1:, :] != instances[..., :-1, :]
    edge[..., :, 1:] |= horizontal
    edge[..., :, :-1] |= horizontal
    edge[..., 1:, :] |= vertical
    edge[..., :-1, :] |= vertical
    return edge.float()


def encode_input(labels: torch.Tensor, instances: torch.Tensor | None, label_nc: int, sources: list[str]) -> torch.Tensor:
    """The generator's input: one-hot labels (or the image itself when label_nc is 0), then the instance edges
    when an instance map is given."""
    if label_nc:
        check_label_range(labels, label_nc, sources)
        encoded = one_hot(labels, label_nc)
    else:
        encoded = labels
    if instances is None:
        return encoded
    return torch.cat((encoded, instance_edges(instances).to(encoded.dtype)), 1)


def label_palette(count: int) -> torch.Tensor:
    """count x 3 colours in [0, 255]: the PASCAL VOC scheme, label bits spread over the high bits of R, G and B."""
    colours = np.zeros((count, 3), dtype=np.uint8)
    for label in range(count):
        value, shift = label, 7
        while value:
            for channel in range(3):
                colours[label, channel] |= ((value >> channel) & 1) << shift
            value >>= 3
            shift -= 1
    return torch.from_numpy(colours)


def colorize(labels: torch.Tensor, label_nc: int) -> torch.Tensor:
    """Nx1xHxW label IDs to Nx3xHxW colours in [-1, 1], one colour per class, for pages and the display."""
    palette = label_palette(label_nc).to(labels.device).float() / 127.5 - 1
    ids = labels[:, 0].long().clamp(0, label_nc - 1)
    return palette[ids].permute(0, 3, 1, 2)
