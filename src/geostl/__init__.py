"""geostl: spatiotemporal forecasting of Earth-science gridded fields."""

__version__ = "0.1.0"
