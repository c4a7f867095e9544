"""The end of a training epoch: validation, the learning-rate step, and the best and periodic checkpoints."""
from typing import Callable

from training.state import Progress
from training.validation import Validation
from util.metrics import METRIC_LOWER_IS_BETTER
from util.visualizer import Visualizer


def end_epoch(model, validation: Validation | None, visualizer: Visualizer | None, progress: Progress,
              save: Callable[[str | int], None], epoch: int, opt) -> None:
    """Validate, step the learning rate, move progress to the next epoch and write the best and periodic checkpoints."""
    metric = model.epoch_metric()
    result = validation.run(model, epoch) if validation and validation.due(epoch) else None
    value = getattr(result, opt.val_metric) if result else None
    if validation:
        metric = value if value is None or METRIC_LOWER_IS_BETTER[opt.val_metric] else -value  # plateau lowers it
    if result and visualizer:
        visualizer.log_validation(result, progress.total_iters)
    model.update_learning_rate(metric)
    progress.epoch, progress.epoch_iter = epoch + 1, 0
    if value is not None and improves(value, progress, opt.val_metric):
        progress.best_val, progress.best_val_metric = value, opt.val_metric
        print(f'best validation {opt.val_metric.upper()} so far ({value:.6f}, epoch {epoch}): saving the model as best')
        save('best')
    if epoch % opt.save_epoch_freq == 0:
        print(f'saving the model at the end of epoch {epoch}, iters {progress.total_iters}')
        save('latest')
        save(epoch)


def improves(value: float, progress: Progress, metric: str) -> bool:
    """Whether `value` of `metric` beats the best checkpoint's (always, when that was chosen by another metric)."""
    if progress.best_val is None or progress.best_val_metric != metric:
        return True
    return value < progress.best_val if METRIC_LOWER_IS_BETTER[metric] else value > progress.best_val
