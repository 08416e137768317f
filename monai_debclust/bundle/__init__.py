"""What the bundle configs call: training data, the training methods, checks of the settings, a run's files.

:func:`prepare_training_data` decodes a run's images (or generates its demo cohort);
:data:`METHODS` and :func:`build_method_network` / :func:`build_method_loss` make each training
method's network and objective; :func:`check_command_line` and :func:`check_output_dir` refuse
bad settings before any work; :mod:`~monai_debclust.bundle.outputs` saves, finds and loads
what a training run leaves (``models/model.pt``, ``network.json``, ``input.json``, checkpoints).
"""

from monai_debclust.bundle.evaluation_data import evaluation_samples
from monai_debclust.bundle.methods import (
    EXPERT_BASES,
    METHODS,
    TEMPERATURE_SCHEDULES,
    TrainingMethod,
    build_method_loss,
    build_method_network,
    build_temperature_schedule,
    get_method,
    method_trains_head,
)
from monai_debclust.bundle.outputs import (
    INPUT_FILE,
    MODEL_FILE,
    NETWORK_FILE,
    CheckpointError,
    latest_checkpoint,
    load_trained_network,
    report_outputs,
    resumable_checkpoint,
    save_trained_network,
    trained_input,
    training_command,
)
from monai_debclust.bundle.settings import (
    RUN_ARGUMENTS,
    check_command_line,
    check_output_dir,
    command_line_settings,
    unknown_settings,
)
from monai_debclust.bundle.training_data import prepare_training_data

__all__ = [
    "evaluation_samples",
    "CheckpointError",
    "EXPERT_BASES",
    "INPUT_FILE",
    "METHODS",
    "MODEL_FILE",
    "NETWORK_FILE",
    "RUN_ARGUMENTS",
    "TEMPERATURE_SCHEDULES",
    "TrainingMethod",
    "build_method_loss",
    "build_method_network",
    "build_temperature_schedule",
    "check_command_line",
    "check_output_dir",
    "command_line_settings",
    "get_method",
    "latest_checkpoint",
    "load_trained_network",
    "method_trains_head",
    "prepare_training_data",
    "report_outputs",
    "resumable_checkpoint",
    "save_trained_network",
    "trained_input",
    "training_command",
    "unknown_settings",
]
