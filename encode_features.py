"""pix2pixHD's encode_features.py: encode every instance of the training photos with a trained feature encoder
(net E), then cluster the vectors of each class with k-means, for test.py, predict.py and serve.py to draw styles from.

Example (after train.py --model pix2pixhd --name label2city_512p_feat --instance_feat):
    python encode_features.py --name label2city_512p_feat
writes features.npy (per class: feat_num values and the size of each instance) and features_clustered_010.npy
(per class: up to --n_clusters centres of the instances above 1/64 of the image) in the experiment folder, in
pix2pixHD's format.
"""
import os

import numpy as np
from tqdm import tqdm

from data import create_dataset
from models import create_model
from models.feature_clusters import cluster_centres, instance_vectors, write_feature_file
from options.test_options import EncoderOptions
from util import checkpoint
from util.errors import report_user_errors


@report_user_errors
def main() -> None:
    opt = EncoderOptions().parse()
    dataset = create_dataset(opt)
    model = create_model(opt)
    model.setup(opt)
    model.eval()
    rows: dict[int, list[np.ndarray]] = {label: [] for label in range(opt.label_nc)}
    for data in tqdm(dataset, desc='encoding', unit='image', disable=None):
        model.set_input(data)
        for label, row in instance_vectors(model.encode_photos(), model.pooling_map):
            rows.setdefault(label, []).append(row)
    features = {label: np.array(found).reshape(-1, opt.feat_num + 1) for label, found in rows.items()}
    folder = checkpoint.experiment_dir(opt)
    write_feature_file(os.path.join(folder, 'features.npy'), features)
    centres = cluster_centres(features, opt.n_clusters)
    target = os.path.join(folder, f'features_clustered_{opt.n_clusters:03d}.npy')
    write_feature_file(target, centres)
    counts = ', '.join(f'{label}: {len(found)}' for label, found in centres.items())
    print(f'encoded {sum(map(len, features.values()))} instances of {len(dataset)} images; cluster centres per class '
          f'({counts or "none: no instance covers 1/64 of its image"}) saved to {target}')


if __name__ == '__main__':
    main()
