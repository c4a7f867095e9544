"""Mean L1 between G(A) and B on a split, for the trained generator and for an untrained one.

Takes test.py's flags, e.g.
    python scripts/evaluate_l1.py --dataroot ./datasets/demo_facades --name demo --direction BtoA
Prints both numbers and the reduction; exits 1 if the trained generator is not better.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data import create_dataset  # noqa: E402
from models import create_model  # noqa: E402
from options.test_options import TestOptions  # noqa: E402
from util.errors import report_user_errors  # noqa: E402


def mean_l1(model, dataset, limit: int) -> float:
    """Average over images of mean |fake_B - real_B| in [-1, 1] units, as test.py runs the model."""
    total, count = 0.0, 0
    for i, data in enumerate(dataset):
        if i >= limit:
            break
        model.set_input(data)
        model.test()
        total += float((model.fake_B - model.real_B).abs().mean())
        count += 1
    return total / count


@report_user_errors
def main() -> None:
    opt = TestOptions().parse()
    dataset = create_dataset(opt)
    torch.manual_seed(0)
    untrained = create_model(opt)
    trained = create_model(opt)
    trained.setup(opt)
    if opt.eval:
        untrained.eval()
        trained.eval()
    untrained_l1 = mean_l1(untrained, dataset, opt.num_test)
    trained_l1 = mean_l1(trained, dataset, opt.num_test)
    reduction = 1.0 - trained_l1 / untrained_l1
    print(f'mean L1 on {opt.phase}: untrained generator {untrained_l1:.4f}, trained generator {trained_l1:.4f} '
          f'({reduction:.0%} lower)')
    if trained_l1 >= untrained_l1:
        sys.exit(1)


if __name__ == '__main__':
    main()
