"""Flags for test.py."""
import argparse
import copy

from models.record import recorded_architecture, uses_features
from options.base_options import BaseOptions, add_fid_weights_flag, add_phase_flag
from util import checkpoint
from util.errors import UserError


class TestOptions(BaseOptions):
    is_train = False

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = super().initialize(parser)
        results = parser.add_argument_group('results')
        results.add_argument('--results_dir', type=str, default='./results/', help='result pages and images are written here')
        add_phase_flag(results, 'test')
        results.add_argument('--num_test', '--how_many', type=int, default=50, help='how many test images to run')
        results.add_argument('--eval', action='store_true', help='use eval mode (running batch norm statistics, no dropout) during test, and add FID and KID to the metrics')
        add_fid_weights_flag(results)
        results.add_argument('--aspect_ratio', type=float, default=1.0, help='aspect ratio (width / height) of the saved result images')
        parser.set_defaults(load_size=parser.get_default('crop_size'))
        return parser

    def adjust(self, opt: argparse.Namespace, args: list[str] | None) -> None:
        """Build the generator as training did, and run as the reference's test.py: one image at a time, in order,
        unflipped, loaded in the main process, no display."""
        adopt_training_architecture(opt, self.parser, args)
        opt.num_threads, opt.batch_size, opt.serial_batches, opt.no_flip, opt.display_id = 0, 1, True, True, -1


class EncoderOptions(TestOptions):
    """The flags of encode_features.py and precompute_feature_maps.py: test.py's, on the training split, for a
    --model pix2pixhd experiment trained with --instance_feat or --label_feat, whose encoder (net E) they run."""

    def initialize(self, parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser = super().initialize(parser)
        parser.set_defaults(model='pix2pixhd', phase='train', num_test=float('inf'))
        return parser

    def adjust(self, opt: argparse.Namespace, args: list[str] | None) -> None:
        super().adjust(opt, args)
        if not uses_features(vars(opt)):
            raise UserError(f'{checkpoint.experiment_dir(opt)} was not trained with --instance_feat or --label_feat: it '
                            'has no feature encoder to run')
        opt.use_encoded_image = True


def explicit_flags(parser: argparse.ArgumentParser, args: list[str] | None) -> set[str]:
    """Option names written on the command line, aliases (pix2pixHD's spellings) and --flag=value forms included."""
    probe = copy.deepcopy(parser)
    for action in probe._actions:
        action.default = argparse.SUPPRESS
    probe._defaults.clear()
    return set(vars(probe.parse_known_args(args)[0]))


def adopt_training_architecture(opt: argparse.Namespace, parser: argparse.ArgumentParser, args: list[str] | None) -> None:
    """Take netG, ngf, norm, no_dropout, input_nc, output_nc and direction from training unless given here;
    a checkpoint of another --model (e.g. colorization) needs that --model, whose data and defaults differ."""
    record = recorded_architecture(checkpoint.experiment_dir(opt), checkpoint.checkpoint_label(opt))
    if record is None:
        return
    values, source = record
    given = explicit_flags(parser, args)
    trained_model = values.pop('model', opt.model)
    if trained_model != opt.model and 'model' not in given:
        raise UserError(f'{source} was trained with --model {trained_model}; run test.py with --model {trained_model}')
    adopted = {flag: value for flag, value in values.items()
               if flag not in given and flag in vars(opt) and getattr(opt, flag) != value}
    if adopted:
        vars(opt).update(adopted)
        flags = ' '.join(f'--{flag}' if value is True else f'--{flag} {value}' for flag, value in adopted.items())
        print(f'using the training flags {flags} from {source} (give a flag on the command line to override it)')
