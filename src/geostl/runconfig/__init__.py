"""Run configs: layered YAML files with ``_base_``, dotted overrides, validation, sources.

Public API::

    from geostl.runconfig import load_config, save_config, open_sources
    cfg = load_config(["configs/tec_convlstm.yaml"], ["train.lr=3e-4", "data.window.t_out=24"])
    sources = open_sources(cfg["data"]["sources"])      # {name: xr.Dataset}
    save_config(cfg, run_dir(cfg))                       # run_dir/config.yaml

The known keys, their types and defaults are in :data:`RUN_SPEC` (``geostl.runconfig.spec``).
"""

from .loader import load_config, merge, parse_override, run_dir, save_config, yaml_load
from .sources import open_sources
from .spec import (
    RUN_SPEC,
    SOURCE_FORMATS,
    ConfigError,
    Field,
    Section,
    check,
    defaults,
    fill_defaults,
    format_keys,
    key_rows,
    with_keys,
    with_section,
)

__all__ = [
    "RUN_SPEC",
    "SOURCE_FORMATS",
    "ConfigError",
    "Field",
    "Section",
    "check",
    "defaults",
    "fill_defaults",
    "format_keys",
    "key_rows",
    "load_config",
    "merge",
    "open_sources",
    "parse_override",
    "run_dir",
    "save_config",
    "with_keys",
    "with_section",
    "yaml_load",
]
