"""Models found by name: --model X loads class XModel from models/X_model.py."""
import importlib
import os

from models.base_model import BaseModel
from util.errors import UserError


def available_models() -> list[str]:
    folder = os.path.dirname(__file__)
    return sorted(name[:-len('_model.py')] for name in os.listdir(folder)
                  if name.endswith('_model.py') and name != 'base_model.py')


def find_model_using_name(model_name: str) -> type[BaseModel]:
    if model_name not in available_models():
        raise UserError(f'--model {model_name!r} is unknown; choose one of: {", ".join(available_models())}')
    module = importlib.import_module(f'models.{model_name}_model')
    class_name = model_name.replace('_', '') + 'model'
    for name, cls in vars(module).items():
        if name.lower() == class_name and isinstance(cls, type) and issubclass(cls, BaseModel):
            return cls
    raise UserError(f'models/{model_name}_model.py must define a BaseModel subclass named {class_name} (any case)')


def get_option_setter(model_name: str):
    return find_model_using_name(model_name).modify_commandline_options


def create_model(opt) -> BaseModel:
    """Build the model named by --model."""
    model = find_model_using_name(opt.model)(opt)
    print(f'model [{type(model).__name__}] was created')
    return model
