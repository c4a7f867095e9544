"""The end of a training epoch: validation, the learning-rate step, and the best and periodic checkpoints."""
from typing import Callable

from training.state import Progress
from training.validation import Validation
from util.visualizer import Visualizer


def end_epoch(model, validation: Validation | None, visualizer: Visualizer | None, progress: Progress,
              save: Callable[[str | int], None], epoch: int, opt) -> None:
    """Validate, step the learning rate, move progress to the next epoch and write the best and periodic checkpoints."""
    metric = model.epoch_metric()
    result = validation.run(model, epoch) if validation and validation.due(epoch) else None
    if validation:
        metric = result.l1 if result else None
    if result and visualizer:
        visualizer.log_validation(result, progress.total_iters)
    model.update_learning_rate(metric)
    progress.epoch, progress.epoch_iter = epoch + 1, 0
    if result and (progress.best_val_l1 is None or result.l1 < progress.best_val_l1):
        progress.best_val_l1 = result.l1
        print(f'best validation L1 so far ({result.l1:.6f}, epoch {epoch}): saving the model as best')
        save('best')
    if epoch % opt.save_epoch_freq == 0:
        print(f'saving the model at the end of epoch {epoch}, iters {progress.total_iters}')
        save('latest')
        save(epoch)
