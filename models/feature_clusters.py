"""pix2pixHD's encoded features as files and as generator inputs: per-instance feature vectors (features.npy), their
k-means centres per class (features_clustered_010.npy), and the feature maps drawn from those centres at test time.

Both files are pix2pixHD's format, a NumPy .npy file holding one pickled dict {class ID: 2-D float array}:
features.npy rows are feat_num values and the instance's size (its pixels over a 32nd of the image), the clustered
file's rows are centres of feat_num values. They are read here without unpickling anything but those arrays.
"""
import os
import pickle
import sys

import numpy as np
import torch

from util.errors import UserError

# What a pickled dict of NumPy arrays refers to (NumPy 1 and 2 spell the module differently); nothing else is loaded.
ARRAY_GLOBALS = {(module, name) for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
                 for name in ('_reconstruct', 'scalar')} | {('numpy', 'ndarray'), ('numpy', 'dtype')}
CLUSTER_FILE = 'features_clustered_010.npy'  # encode_features.py's with --n_clusters 10, test.py's --cluster_path
BLOCKS = 32  # pix2pixHD measures an instance's size in 32nds of the image
MIN_SIZE = 0.5  # and clusters the instances above half of one (1/64 of the image)


def class_of(instance_id: int) -> int:
    """The class of a Cityscapes instance ID: IDs from 1000 on are class * 1000 + n, smaller ones the class itself."""
    return instance_id if instance_id < 1000 else instance_id // 1000


def connected_instances(labels: torch.Tensor) -> torch.Tensor:
    """Instance IDs for Nx1xHxW label maps that come without instance maps (drawn or uploaded): each 4-connected
    region of a class above 0 gets class * 1000 + n, as Cityscapes numbers instances; class 0 stays 0."""
    from scipy import ndimage
    ids = labels[:, 0].long().cpu().numpy()
    instances = np.zeros(ids.shape, dtype=np.int64)
    for image, image_ids in zip(instances, ids):
        for label in np.unique(image_ids[image_ids > 0]):
            regions, _ = ndimage.label(image_ids == label)
            image[regions > 0] = label * 1000 + regions[regions > 0] - 1
    return torch.from_numpy(instances).float()[:, None].to(labels.device)


class ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f'{module}.{name}')
        return super().find_class(module, name)


def read_feature_file(path: str, columns: int, flag: str) -> dict[int, np.ndarray]:
    """{class ID: rows x `columns` float array} from a features or cluster file of pix2pixHD's format; one line
    naming the file when it is missing, holds anything but such arrays, or rows of another length (`flag` says why
    that length)."""
    if not os.path.isfile(path):
        raise UserError(f'{path} does not exist; run encode_features.py --name <the experiment> first, or give --cluster_path')
    try:
        with open(path, 'rb') as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(handle)
            content = ArraysOnly(handle, encoding='latin1').load() if dtype.hasobject else None
    except pickle.UnpicklingError as err:
        raise UserError(f'{path} holds a pickled {err}, not only arrays; a cluster file is a dict of class ID to '
                        'arrays (encode_features.py writes one)') from err
    except (ValueError, EOFError, OSError, AttributeError, TypeError) as err:
        raise UserError(f'{path} is not a features file of pix2pixHD\'s format ({err}); encode_features.py writes one') from err
    table = content.item() if isinstance(content, np.ndarray) and content.shape == () else None
    if not isinstance(table, dict):
        held = f'a {dtype} array of shape {shape}' if table is None else f'a {type(table).__name__}'
        raise UserError(f'{path} holds {held}, not a dict of class ID to arrays; encode_features.py writes one')
    checked = {}
    for label, rows in table.items():
        rows = np.asarray(rows)
        if not isinstance(label, (int, np.integer)) or rows.ndim != 2 or rows.shape[1] != columns or rows.dtype.kind != 'f':
            raise UserError(f'{path}: class {label!r} holds a {rows.dtype} array of shape {rows.shape}, not rows of '
                            f'{columns} values; it was made for another {flag}, re-run encode_features.py')
        checked[int(label)] = rows
    return checked


def write_feature_file(path: str, table: dict[int, np.ndarray]) -> None:
    """Write {class ID: array} in pix2pixHD's format (np.save of the dict), through a temporary file."""
    temporary = path + '.tmp'
    with open(temporary, 'wb') as handle:
        np.save(handle, np.array({int(label): np.asarray(rows, dtype=np.float64) for label, rows in table.items()},
                                 dtype=object), allow_pickle=True)
    os.replace(temporary, path)


def instance_vectors(feature_map: torch.Tensor, instances: torch.Tensor) -> list[tuple[int, np.ndarray]]:
    """(class ID, feat_num values and the size in 32nds of the image) for each instance of each image of a batch:
    the encoder's pooled output (one value per instance and channel) and its instance-ID map."""
    height, width = instances.shape[-2:]
    found = []
    for features, ids in zip(feature_map.float().cpu(), instances[:, 0].long().cpu()):
        for instance_id in torch.unique(ids).tolist():
            inside = ids == instance_id
            size = float(inside.sum()) / (height * width // BLOCKS)
            found.append((class_of(instance_id), np.append(features[:, inside].mean(1).numpy(), size)))
    return found


def cluster_centres(features: dict[int, np.ndarray], n_clusters: int) -> dict[int, np.ndarray]:
    """pix2pixHD's clustering: per class, the instances above MIN_SIZE, k-means (scikit-learn, random_state 0)
    into min(n_clusters, instances) centres; classes without such instances are left out."""
    from sklearn.cluster import KMeans
    centres = {}
    for label, rows in sorted(features.items()):
        kept = rows[rows[:, -1] > MIN_SIZE, :-1]
        if len(kept):
            kmeans = KMeans(n_clusters=min(len(kept), n_clusters), random_state=0, n_init=10).fit(kept)
            centres[label] = kmeans.cluster_centers_
    return centres


class StyleSampler:
    """Feature maps for the generator drawn from cluster centres: each instance gets a centre of its class, chosen
    by a seeded generator or given; instances of classes without centres get zeros (the first such class is named
    once in a warning)."""

    def __init__(self, centres: dict[int, np.ndarray], feat_num: int, seed: int | None, source: str):
        self.centres = centres
        self.feat_num = feat_num
        self.rng = np.random.default_rng(seed)
        self.source = source
        self.warned = False

    @classmethod
    def from_file(cls, path: str, feat_num: int, seed: int | None) -> 'StyleSampler':
        return cls(read_feature_file(path, feat_num, f'--feat_num (this model has {feat_num})'), feat_num, seed, path)

    def style_count(self, label: int) -> int:
        return len(self.centres.get(label, ()))

    def feature_map(self, instances: torch.Tensor, steps: dict[int, int] | None = None,
                    rng: np.random.Generator | None = None) -> torch.Tensor:
        """Nxfeat_numxHxW features for the Nx1xHxW instance-ID map: each instance a centre of its class drawn with
        `rng` (default this sampler's seeded one), moved on by `steps`[instance ID] centres where given."""
        rng = rng or self.rng
        ids = instances[:, 0].long()
        output = torch.zeros(ids.shape[0], self.feat_num, *ids.shape[1:], device=instances.device)
        for image, image_ids in zip(output, ids):
            for instance_id in torch.unique(image_ids).tolist():
                centre = self.centre_for(instance_id, (steps or {}).get(instance_id, 0), rng)
                if centre is not None:
                    inside = image_ids == instance_id
                    image[:, inside] = torch.as_tensor(centre, dtype=image.dtype, device=image.device)[:, None]
        return output

    def centre_for(self, instance_id: int, step: int, rng: np.random.Generator) -> np.ndarray | None:
        """A drawn centre of the instance's class, `step` centres on (a draw is made either way, so that steps
        given for one instance leave the others' draws as they were); None for a class without centres."""
        label = class_of(instance_id)
        centres = self.centres.get(label)
        if centres is None or not len(centres):
            self.warn_missing(label)
            return None
        return centres[(rng.integers(len(centres)) + step) % len(centres)]

    def warn_missing(self, label: int) -> None:
        if not self.warned:
            self.warned = True
            print(f'warning: {self.source} has no cluster for class {label}: its instances (and those of any other '
                  'class without clusters) get zero features', file=sys.stderr)
