"""Run a trained generator on a dataset split and write an HTML page of the results.

Example:
    python test.py --dataroot ./datasets/facades --name facades_pix2pix --model pix2pix --direction BtoA
Results go to <results_dir>/<name>/<phase>_<epoch>/index.html.
"""
import os

from data import create_dataset
from models import create_model
from options.test_options import TestOptions
from util import html
from util.errors import report_user_errors
from util.visualizer import save_images


@report_user_errors
def main() -> None:
    opt = TestOptions().parse()
    opt.num_threads = 0
    opt.batch_size = 1
    opt.serial_batches = True
    opt.no_flip = True
    opt.display_id = -1
    dataset = create_dataset(opt)
    model = create_model(opt)
    model.setup(opt)
    web_dir = os.path.join(opt.results_dir, opt.name, f'{opt.phase}_{opt.epoch}')
    if opt.load_iter > 0:
        web_dir = f'{web_dir}_iter{opt.load_iter}'
    print(f'creating web directory {web_dir}')
    webpage = html.HTML(web_dir, f'Experiment = {opt.name}, Phase = {opt.phase}, Epoch = {opt.epoch}')
    if opt.eval:
        model.eval()
    for i, data in enumerate(dataset):
        if i >= opt.num_test:
            break
        model.set_input(data)
        model.test()
        img_path = model.get_image_paths()
        if i % 5 == 0:
            print(f'processing ({i:04d})-th image... {img_path}')
        save_images(webpage, model.get_current_visuals(), img_path, aspect_ratio=opt.aspect_ratio, width=opt.display_winsize)
    print(f'results page: {webpage.save()}')


if __name__ == '__main__':
    main()
