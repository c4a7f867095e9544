"""Models found by name: --model X loads class XModel from models/X_model.py.

Also here: what every model provides (base_model), the networks registry (networks), the step policy every model
inherits (step), the speed settings and --fast (speed), the training record (record), label-map inputs (label_maps),
pix2pixHD's encoded features as files and styles (feature_clusters) and the Translator API (translator)."""
import os

from models.base_model import BaseModel
from util.registry import find_class


def find_model_using_name(model_name: str) -> type[BaseModel]:
    return find_class('models', os.path.dirname(__file__), 'model', model_name, BaseModel, '--model')


def get_option_setter(model_name: str):
    return find_model_using_name(model_name).modify_commandline_options


def create_model(opt) -> BaseModel:
    """Build the model named by --model."""
    model = find_model_using_name(opt.model)(opt)
    print(f'model [{type(model).__name__}] was created')
    return model
