"""Run outputs: map figures, GIF animations, metric-by-lead plots and NetCDF forecasts.

Public API::

    from geostl.outputs import (plot_forecast_maps, write_forecast_gif, plot_metric_by_lead,
                                write_forecast_netcdf)

All take physical units (de-normalised) and plain arrays or tensors; figures are built on
matplotlib's Agg canvas without pyplot, so they work headless and do not leak figures.
"""

from .animation import write_forecast_gif
from .bounds import clip_lower, clip_to_bounds, lower_bound
from .figures import forecast_maps_figure, plot_forecast_maps
from .forecast_files import FORECAST_FORMATS, forecast_format, write_forecast
from .netcdf import ORACLE_WARNING, forecast_dataset, write_forecast_netcdf
from .rmse_plot import metric_by_lead_figure, plot_metric_by_lead

__all__ = [
    "FORECAST_FORMATS",
    "ORACLE_WARNING",
    "clip_lower",
    "clip_to_bounds",
    "forecast_dataset",
    "forecast_format",
    "forecast_maps_figure",
    "lower_bound",
    "metric_by_lead_figure",
    "plot_forecast_maps",
    "plot_metric_by_lead",
    "write_forecast",
    "write_forecast_gif",
    "write_forecast_netcdf",
]
