"""Operational forecasting: a checkpoint, today's maps and drivers in, the next maps out.

- :mod:`geostl.forecast.window`: the one input window at an issue time (no truth needed;
  observed drivers never read after the issue time);
- :mod:`geostl.forecast.model`: ``geostl.load(ckpt)`` -> :class:`ForecastModel` with
  ``forecast(maps, drivers=..., issue=...) -> xarray.Dataset``;
- :mod:`geostl.forecast.inputs`: files on the command line -> the model's sources
  (``geostl forecast``).
"""

from .model import ForecastModel, load
from .window import IssueWindow, issue_window, pick_issue_time

__all__ = ["ForecastModel", "IssueWindow", "issue_window", "load", "pick_issue_time"]
