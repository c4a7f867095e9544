"""Run a trained generator on a dataset split and write an HTML page of the results.

Example:
    python test.py --dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --direction BtoA
Results go to <results_dir>/<name>/<phase>_<epoch>/index.html.
"""
import os
from dataclasses import asdict

from tqdm import tqdm

from data import create_dataset
from models import create_model
from options.test_options import TestOptions
from util import html
from util.errors import report_user_errors
from util.metrics import ResultMetrics, start_set_scores
from util.util import tensor2im
from util.visualizer import image_stem, save_images


@report_user_errors
def main() -> None:
    options = TestOptions()
    opt = options.parse()
    dataset = create_dataset(opt)
    model = create_model(opt)
    model.setup(opt)
    options.save(opt, asdict(model.speed))
    web_dir = os.path.join(opt.results_dir, opt.name, f'{opt.phase}_{opt.epoch}')
    if opt.load_iter > 0:
        web_dir = f'{web_dir}_iter{opt.load_iter}'
    print(f'creating web directory {web_dir}')
    webpage = html.HTML(web_dir, f'Experiment = {opt.name}, Phase = {opt.phase}, Epoch = {opt.epoch}')
    if opt.eval:
        model.eval()
    metrics = ResultMetrics(*start_set_scores(opt.fid_weights, model.device)) if opt.eval else ResultMetrics()
    tracker = start_wandb(opt)
    images = tqdm(dataset, desc='test images', total=min(len(dataset), opt.num_test), unit='image', disable=None)
    for i, data in enumerate(images):
        if i >= opt.num_test:
            break
        model.set_input(data)
        model.test()
        img_path = model.get_image_paths()
        if i % 5 == 0:
            tqdm.write(f'processing ({i:04d})-th image... {img_path}')
        visuals = model.get_current_visuals()
        caption = metrics.add(image_stem(img_path[0]), visuals)
        save_images(webpage, visuals, img_path, aspect_ratio=opt.aspect_ratio, width=opt.display_winsize, caption=caption)
        if tracker:
            tracker.log_result(image_stem(img_path[0]), {label: tensor2im(image) for label, image in visuals.items()})
    images.close()
    if metrics.rows:
        metrics.add_to_page(webpage)
        print(f'{metrics.describe()}: {metrics.write_json(os.path.join(web_dir, "metrics.json"))}')
        if tracker:
            tracker.log_metrics_table(metrics)
    print(f'results page: {webpage.save()}')
    if tracker:
        tracker.close()


def start_wandb(opt):
    """The wandb run of --use_wandb (None without the flag, or when wandb cannot start)."""
    if not opt.use_wandb:
        return None
    from util.wandb_tracker import WandbTracker
    return WandbTracker.start(opt, job_type='test')


if __name__ == '__main__':
    main()
