"""WeatherBench 5.625 deg sets (the SVQ paper's weather runs): :mod:`.sets` names each set's
variables, levels and years and turns one into a run config's ``data`` section. Runs are
Forecaster runs (no ``task`` key); the files are read by :mod:`geostl.io.weatherbench`."""
