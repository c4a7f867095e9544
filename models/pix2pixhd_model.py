"""pix2pixHD: high-resolution conditional GANs from semantic label maps (Wang et al., CVPR 2018), with its flags."""
import argparse
import itertools
import os

import torch

from data.labeled_dataset import add_label_options
from models import networks
from models.base_model import BaseModel
from models.feature_clusters import CLUSTER_FILE, StyleSampler
from models.label_maps import colorize, encode_input
from models.record import generator_input_channels, uses_features
from util import checkpoint
from util.distributed import without_ddp
from util.errors import UserError
from util.image_pool import ImagePool

DATASETS_WITH_LABEL_MAPS = ('labeled',)


def add_encoder_options(group: argparse._ActionsContainer) -> None:
    """The flags of pix2pixHD's feature encoder that shape the networks (kept in the training record)."""
    group.add_argument('--instance_feat', action='store_true', help='add encoded features to G\'s input: net E encodes the target photo and each instance (<phase>_inst/) gets its average; at test time a cluster centre of its class (encode_features.py)')
    group.add_argument('--label_feat', action='store_true', help='as --instance_feat, averaged over each label\'s region instead of each instance')
    group.add_argument('--feat_num', type=int, default=3, help='encoded values per instance: feature channels added to G\'s input')
    group.add_argument('--nef', type=int, default=16, help='encoder filters in the first conv layer')
    group.add_argument('--n_downsample_E', type=int, default=4, help='stride-2 downsamplings of the encoder')


def add_cluster_path_flag(group: argparse._ActionsContainer) -> None:
    group.add_argument('--cluster_path', type=str, default=CLUSTER_FILE, help='the cluster centres each region draws its encoded features from (encode_features.py writes them); relative to <checkpoints_dir>/<name>/ as in pix2pixHD')


class Pix2PixHDModel(BaseModel):
    """G maps a label map (one-hot, plus instance edges) or an image to a photo; a multiscale D judges (input, photo)
    pairs. G loss = GAN (summed over D's scales) + lambda_feat * (D feature matching + VGG19 perceptual loss)."""

    @staticmethod
    def modify_commandline_options(parser: argparse.ArgumentParser, is_train: bool = True) -> argparse.ArgumentParser:
        parser.set_defaults(netG='global', netD='multiscale', num_D=2, n_layers_D=3, norm='instance', no_dropout=True,
                            dataset_mode='labeled', preprocess='scale_width', load_size=1024, crop_size=512,
                            dataroot='./datasets/cityscapes/')
        add_label_options(parser)
        features = parser.add_argument_group("pix2pixHD's feature encoder (--instance_feat, --label_feat)")
        add_encoder_options(features)
        features.add_argument('--n_clusters', type=int, default=10, help='encode_features.py: k-means centres per class')
        if not is_train:
            add_cluster_path_flag(features)
            features.add_argument('--use_encoded_image', action='store_true', help='encode the real photo (<phase>_img/) with net E instead of drawing cluster centres')
        else:
            parser.set_defaults(gan_mode='lsgan', pool_size=0)
            losses = parser.add_argument_group("pix2pixHD's losses and stages")
            losses.add_argument('--no_lsgan', action='store_true', help='vanilla GAN loss (cross-entropy) instead of least squares')
            losses.add_argument('--lambda_feat', type=float, default=10.0, help='weight of the feature matching and VGG losses')
            losses.add_argument('--no_ganFeat_loss', action='store_true', help='no feature matching loss on the discriminator\'s stages')
            losses.add_argument('--no_vgg_loss', action='store_true', help='no VGG19 perceptual loss (which needs torchvision\'s ImageNet weights)')
            losses.add_argument('--niter_fix_global', type=int, default=0,
                                help='with --netG local: train only the outermost local enhancer for the first N epochs, the rest fixed')
            losses.add_argument('--load_pretrain', type=str, default='',
                                help='start from the latest_net_G.pth (and latest_net_D.pth, latest_net_E.pth) of this experiment '
                                     'folder, e.g. a trained --netG global for a --netG local (its layers that fit are loaded)')
        return parser

    def __init__(self, opt):
        super().__init__(opt)
        self.check_data(opt)
        self.label_nc = opt.label_nc
        self.uses_instances = not opt.no_instance
        input_nc = (opt.label_nc or opt.input_nc) + int(self.uses_instances)
        self.visual_names = ['real_A', 'fake_B', 'real_B']
        self.model_names = ['G', 'D'] if self.isTrain else ['G']
        self.size_multiple = networks.size_multiple_of(opt)
        self.define_features(opt)
        self.netG = networks.define_G(generator_input_channels(vars(opt)), opt.output_nc, opt.ngf, opt.netG, opt.norm,
                                      not opt.no_dropout, opt.init_type, opt.init_gain, self.device,
                                      **networks.hd_generator_options(opt))
        if self.isTrain:
            self.define_training(opt, input_nc)

    def define_features(self, opt) -> None:
        """Where G's feature channels come from: net E on the photo (training; --use_encoded_image), <phase>_feat/
        maps (--load_features; E then comes from --load_pretrain and is kept, not trained), or cluster centres."""
        self.use_features = uses_features(vars(opt))
        self.loads_features = self.use_features and vars(opt).get('load_features', False)
        if not self.use_features:
            return
        if opt.instance_feat and opt.no_instance:
            raise UserError('--instance_feat averages features over instance maps: drop --no_instance, or use --label_feat')
        if not opt.label_nc:
            raise UserError('--instance_feat and --label_feat need label maps (--label_nc above 0)')
        if self.loads_features and opt.feat_num != 3:
            raise UserError(f'--load_features reads feature maps stored as RGB PNGs: use --feat_num 3, not {opt.feat_num}')
        if self.isTrain and self.loads_features and not (opt.load_pretrain or opt.continue_train):
            raise UserError('--load_features: add --load_pretrain <the experiment whose encoder wrote the feature maps '
                            '(precompute_feature_maps.py)>: its net E is kept with this model, for encode_features.py')
        self.trains_encoder = self.isTrain and not self.loads_features
        if self.isTrain or opt.use_encoded_image:
            self.model_names.append('E')
            self.netE = networks.define_E(opt.output_nc, opt.feat_num, opt.nef, opt.n_downsample_E, opt.norm,
                                          opt.init_type, opt.init_gain, self.device)
            self.netE.requires_grad_(self.trains_encoder)
        elif not self.loads_features:
            self.styles = StyleSampler.from_file(os.path.join(self.save_dir, opt.cluster_path), opt.feat_num, opt.seed)

    @staticmethod
    def check_data(opt) -> None:
        """Data without label maps (aligned, single) gives images and no instance maps: --label_nc 0 --no_instance."""
        if opt.dataset_mode in DATASETS_WITH_LABEL_MAPS:
            return
        if opt.label_nc:
            raise UserError(f'--dataset_mode {opt.dataset_mode} gives images, not label maps: add --label_nc 0 '
                            '(the inputs are then images), or use --dataset_mode labeled')
        if not opt.no_instance:
            raise UserError(f'--dataset_mode {opt.dataset_mode} has no instance maps: add --no_instance, or use '
                            '--dataset_mode labeled with <phase>_inst/ maps')

    def define_training(self, opt, input_nc: int) -> None:
        gan_mode = 'vanilla' if opt.no_lsgan else opt.gan_mode
        networks.choose('GAN objective of --model pix2pixhd', '--gan_mode', gan_mode, ('lsgan', 'vanilla'))
        self.use_feature_matching = not opt.no_ganFeat_loss
        self.use_vgg = not opt.no_vgg_loss
        if self.use_feature_matching and opt.netD != 'multiscale':
            raise UserError(f'--netD {opt.netD} has no stages to match features on: use --netD multiscale, or add --no_ganFeat_loss')
        if self.use_vgg and opt.output_nc != 3:
            raise UserError(f'the VGG loss compares RGB images; --output_nc {opt.output_nc}: add --no_vgg_loss')
        self.loss_names = ['G_GAN'] + ['G_GAN_Feat'] * self.use_feature_matching + ['G_VGG'] * self.use_vgg + ['D_real', 'D_fake']
        self.netD = networks.define_D(input_nc + opt.output_nc, opt.ndf, opt.netD, opt.n_layers_D, opt.norm, opt.init_type,
                                      opt.init_gain, self.device, num_D=opt.num_D, intermediate_features=self.use_feature_matching)
        self.criterionGAN = networks.GANLoss(gan_mode).to(self.device)
        self.criterionFeat = torch.nn.L1Loss()
        if self.use_vgg:
            self.criterionVGG = networks.VGGLoss().to(self.device)
        self.fake_pool = ImagePool(opt.pool_size)
        self.fixed_parameters = self.parameters_fixed_at_first(opt)
        self.epoch = opt.epoch_count
        if opt.load_pretrain and not opt.continue_train:
            self.load_pretrained(opt.load_pretrain)
        encoder = self.netE.parameters() if self.use_features and self.trains_encoder else ()
        self.optimizer_G = self.make_adam(itertools.chain(self.netG.parameters(), encoder))  # pix2pixHD trains E with G
        self.optimizer_D = self.make_adam(self.netD.parameters())
        self.optimizers = [self.optimizer_G, self.optimizer_D]

    def parameters_fixed_at_first(self, opt) -> list[torch.nn.Parameter]:
        """What --niter_fix_global holds fixed: every parameter of G outside the outermost enhancer model<n>_*."""
        if opt.niter_fix_global <= 0:
            return []
        if opt.netG != 'local':
            raise UserError(f'--niter_fix_global {opt.niter_fix_global} trains only the local enhancer of --netG local; '
                            f'with --netG {opt.netG} leave it at 0')
        outermost = f'model{opt.n_local_enhancers}_'
        fixed = [param for name, param in self.netG.named_parameters() if not name.startswith(outermost)]
        print(f'only the local enhancer {outermost}* trains for the first {opt.niter_fix_global} epoch(s); '
              f'{len(fixed)} tensors of the global part are held fixed until then')
        return fixed

    def load_pretrained(self, folder: str) -> None:
        """--load_pretrain: G from <folder>/latest_net_G.pth, at least its global part model.*; D where its layers fit."""
        global_part = [key for key, _ in self.netG.named_parameters() if self.opt.netG != 'local' or key.startswith('model.')]
        self.load_fitting_layers('G', self.netG, folder, required=global_part)
        self.load_fitting_layers('D', self.netD, folder, required=[])
        if self.loads_features:
            self.load_fitting_layers('E', self.netE, folder, required=list(self.netE.state_dict()))
        elif self.use_features and os.path.isfile(checkpoint.net_path(folder, 'latest', 'E')):
            self.load_fitting_layers('E', self.netE, folder, required=[])

    @staticmethod
    def load_fitting_layers(name: str, net: torch.nn.Module, folder: str, required: list[str]) -> None:
        """Load the tensors of the file whose names and shapes fit `net`; the `required` ones must all be there."""
        path = checkpoint.net_path(folder, 'latest', name)
        state = checkpoint.load_weights(path)
        own = net.state_dict()
        fitting = {key: value for key, value in state.items() if key in own and own[key].shape == value.shape}
        missing = [key for key in required if key not in fitting]
        if missing or not fitting:
            shown = ', '.join(missing[:3]) or 'any layer'
            raise UserError(f'--load_pretrain: {path} lacks {shown} of this net {name} (or has other shapes); a global '
                            'generator for --netG local must have --ngf twice the local one and the same --n_downsample_global, '
                            '--n_blocks_global, --label_nc and --no_instance')
        net.load_state_dict(fitting, strict=False)
        print(f'--load_pretrain: loaded {len(fitting)} of the {len(own)} tensors of net {name} from {path}')

    def set_input(self, input: dict) -> None:
        """A labeled batch (label, inst, image, path) or an aligned or single one (A, B, A_paths, B_paths)."""
        if 'label' in input:
            labels, instances, target, paths = input['label'], input.get('inst'), input.get('image'), input['path']
        else:
            a_to_b = self.opt.direction == 'AtoB'
            labels, instances = input['A' if a_to_b else 'B'], None
            target, paths = input.get('B' if a_to_b else 'A'), input['A_paths' if a_to_b else 'B_paths']
        if self.uses_instances and instances is None:
            raise UserError(f'{paths[0]} comes without an instance map; give <phase>_inst/ maps or add --no_instance')
        labels = labels.to(self.device)
        instances = instances.to(self.device) if self.uses_instances else None
        self.input_label = encode_input(labels, instances, self.label_nc, list(paths))
        self.real_A = colorize(labels, self.label_nc) if self.label_nc else labels
        self.real_B = target.to(self.device) if target is not None else None
        self.visual_names = ['real_A', 'fake_B'] + ['real_B'] * (target is not None)
        self.image_paths = paths
        if self.use_features:
            self.pooling_map = labels if self.opt.label_feat else instances
            self.loaded_features = input['feat'].to(self.device) if self.loads_features else None

    def forward(self) -> None:
        generator_input = self.input_label
        if self.use_features:
            generator_input = torch.cat((generator_input, self.feature_map().to(generator_input.dtype)), 1)
        self.fake_B = networks.run_at_any_size(self.netG, generator_input, self.size_multiple)

    def encode_photos(self) -> torch.Tensor:
        """net E's features of the current photos, constant inside each region of pooling_map (encode_features.py
        and precompute_feature_maps.py run this with --use_encoded_image)."""
        with torch.no_grad(), self.autocast():
            return self.feature_map().float()

    def feature_map(self) -> torch.Tensor:
        """G's feature channels: loaded, encoded from the photo, or drawn from the cluster centres."""
        if self.loads_features:
            return self.loaded_features
        if self.isTrain or self.opt.use_encoded_image:
            if self.real_B is None:
                raise UserError(f'--use_encoded_image encodes the real photo, but {self.image_paths[0]} has none in '
                                f'<phase>_img/; add the photos, or leave the flag out to draw cluster centres')
            return self.netE(self.real_B, self.pooling_map)
        return self.styles.feature_map(self.pooling_map)

    def feature_matching(self, pred_fake: list[list[torch.Tensor]], pred_real: list[list[torch.Tensor]]) -> torch.Tensor:
        """L1 between D's stages on fake and on real pairs, decisions excluded, each weighted 4/(n_layers_D+1)/num_D."""
        weight = 4.0 / (self.opt.n_layers_D + 1) / self.opt.num_D * self.opt.lambda_feat
        return sum(self.criterionFeat(fake, real.detach()) * weight
                   for fake_scale, real_scale in zip(pred_fake, pred_real)
                   for fake, real in zip(fake_scale[:-1], real_scale[:-1]))

    def backward_G(self) -> None:
        """G against D as it was before this step's D update (pix2pixHD's order); D runs outside DDP, frozen."""
        with self.autocast():
            pred_fake = without_ddp(self.netD)(torch.cat((self.input_label, self.fake_B), 1))
            self.loss_G_GAN = self.criterionGAN(pred_fake, True)
            self.loss_G = self.loss_G_GAN
            if self.use_feature_matching:
                self.loss_G_GAN_Feat = self.feature_matching(pred_fake, self.pred_real)
                self.loss_G = self.loss_G + self.loss_G_GAN_Feat
            if self.use_vgg:
                self.loss_G_VGG = self.criterionVGG(self.fake_B, self.real_B) * self.opt.lambda_feat
                self.loss_G = self.loss_G + self.loss_G_VGG
        self.scaler.scale(self.loss_G).backward()

    def backward_D(self) -> None:
        """D on the fake pair (detached; from the image pool under --pool_size) and on the real pair; halved."""
        fake_pair = torch.cat((self.input_label, self.fake_B), 1).detach()
        if self.opt.pool_size:
            fake_pair = self.fake_pool.query(fake_pair)
        with self.autocast():
            self.loss_D_fake = self.criterionGAN(self.netD(fake_pair), False)
            self.loss_D_real = self.criterionGAN(self.pred_real, True)
            self.loss_D = (self.loss_D_fake + self.loss_D_real) * 0.5
        self.scaler.scale(self.loss_D).backward()

    def optimize_parameters(self) -> None:
        with self.autocast():
            self.forward()
            self.netD.requires_grad_(True)
            self.pred_real = self.netD(torch.cat((self.input_label, self.real_B), 1))
        self.netD.requires_grad_(False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.hold_global_part()
        self.step_optimizer(self.optimizer_G, 'G')
        self.netD.requires_grad_(True)
        self.optimizer_D.zero_grad()
        self.backward_D()
        self.step_optimizer(self.optimizer_D, 'D')
        self.update_scaler()
        self.pred_real = None

    def hold_global_part(self) -> None:
        """During the first --niter_fix_global epochs, drop the global part's gradients: Adam leaves it as it is."""
        if self.epoch <= self.opt.niter_fix_global:
            for param in self.fixed_parameters:
                param.grad = None

    def update_learning_rate(self, metric: float | None = None) -> None:
        super().update_learning_rate(metric)
        self.epoch += 1
        if self.fixed_parameters and self.epoch == self.opt.niter_fix_global + 1:
            print(f'epoch {self.epoch}: the global generator trains too from now on (--niter_fix_global {self.opt.niter_fix_global})')

    def training_state(self) -> dict:
        return {**super().training_state(), 'epoch': self.epoch}

    def load_training_state(self, state: dict) -> None:
        super().load_training_state(state)
        self.epoch = state['epoch']

    def rank_state(self) -> dict:
        return {'image_pool': [image.cpu() for image in self.fake_pool.images]}

    def load_rank_state(self, state: dict) -> None:
        self.fake_pool.images = [image.to(self.device) for image in state['image_pool']]

    def synthetic_batch(self) -> dict:
        """Random label maps (or images with --label_nc 0), instance maps and targets of the configured shape, for --fast."""
        opt = self.opt
        generator = torch.Generator().manual_seed(0)
        shape = (opt.batch_size, 1, opt.crop_size, opt.crop_size)
        if self.label_nc:
            labels = torch.randint(0, self.label_nc, shape, generator=generator).float()
        else:
            labels = torch.rand(opt.batch_size, opt.input_nc, *shape[2:], generator=generator) * 2 - 1
        batch = {'label': labels, 'image': torch.rand(opt.batch_size, opt.output_nc, *shape[2:], generator=generator) * 2 - 1,
                 'path': ['synthetic.png'] * opt.batch_size}
        if self.uses_instances:
            batch['inst'] = torch.randint(0, 4, shape, generator=generator).float()
        if self.loads_features:
            batch['feat'] = torch.rand(opt.batch_size, opt.feat_num, *shape[2:], generator=generator) * 2 - 1
        return batch
