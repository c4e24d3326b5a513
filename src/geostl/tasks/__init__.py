"""Tasks: one folder per data family or paper, each registering its parts.

A task supplies what the generic pipeline cannot know: its run-config schema, its dataset
builder, its model and loss, and its evaluation. Tasks are listed in :data:`TASKS` by name and
chosen by the run config's top-level ``task`` key (absent: the Forecaster pipeline of
:mod:`geostl.commands.run`).
"""

from geostl.tasks.registry import TASKS, Task, ready_config, task_of

__all__ = ["TASKS", "Task", "ready_config", "task_of"]
