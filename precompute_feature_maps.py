"""pix2pixHD's precompute_feature_maps.py: write what a trained feature encoder (net E) makes of each training photo
as an image, <dataroot>/<phase>_feat/<label map's name>.png, for a higher-resolution run with --load_features.

Example (after train.py --model pix2pixhd --name label2city_512p_feat --instance_feat):
    python precompute_feature_maps.py --name label2city_512p_feat
    python train.py --model pix2pixhd --name label2city_1024p_feat --netG local --ngf 32 --num_D 3 \\
        --load_pretrain checkpoints/label2city_512p_feat/ --resize_or_crop none --instance_feat --load_features
Each map is the encoder's output at the loaded size, resized (nearest) to its label map's size in the file, and
stored with 8 bits per value as pix2pixHD stores it (so --feat_num 3: an RGB PNG).
"""
import os

import numpy as np
import torch.nn.functional as F
from tqdm import tqdm

from data import create_dataset
from data.labeled_dataset import split_folder
from models import create_model
from options.test_options import EncoderOptions
from util.errors import UserError, report_user_errors
from util.image_io import read_size, to_array
from util.util import save_image


@report_user_errors
def main() -> None:
    opt = EncoderOptions().parse()
    if opt.feat_num != 3:
        raise UserError(f'--feat_num {opt.feat_num}: feature maps are stored as RGB PNGs, as pix2pixHD stores them, '
                        'so precompute_feature_maps.py needs an encoder of 3 features')
    dataset = create_dataset(opt)
    model = create_model(opt)
    model.setup(opt)
    model.eval()
    label_dir = split_folder(opt, 'label')
    target_dir = os.path.join(opt.dataroot, f'{opt.phase}_feat')
    for data in tqdm(dataset, desc='feature maps', unit='image', disable=None):
        model.set_input(data)
        features = model.encode_photos()
        for feature_map, path in zip(features, data['path']):
            width, height = read_size(path)
            resized = F.interpolate(feature_map[None], size=(height, width), mode='nearest')[0]
            target = os.path.join(target_dir, os.path.splitext(os.path.relpath(path, label_dir))[0] + '.png')
            os.makedirs(os.path.dirname(target), exist_ok=True)
            save_image(to_array(resized.cpu(), np.uint8), target)
    print(f'wrote {len(dataset)} feature maps to {target_dir}')


if __name__ == '__main__':
    main()
