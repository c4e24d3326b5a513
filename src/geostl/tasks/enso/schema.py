"""The run-config schema of the ENSO task: the one place its keys are declared.

The ``run`` and ``train`` sections are the Forecaster runs' own (``RUN_SPEC``), so the Trainer
reads them unchanged; ``task``, ``data``, ``model`` and ``eval`` are the task's::

    task: enso
    data:
      sources:                 the SST maps and the index table, like any run's sources
        sst: {sample: sst}                 ({paths: [...], format: netcdf} for ERSSTv5 files)
        indices: {sample: sst_indices}     ({paths: ..., format: noaa_index} for CPC's table)
      variable: sst            SST variable of the ``sst`` source (degC, NaN on land)
      index: nino34_anom       index variable of the ``indices`` source (degC anomaly)
      lat_range: [-55, 60]     rows kept (cell centres, degrees north)
      stride: 2                every stride-th grid point kept in lat and lon (no averaging)
      n_input: 6               input months per sample
      n_leads: 6               index / phase leads (months 1..n_leads after the last input)
      splits:                  by the months of a window's targets (inclusive, YYYY-MM):
        train: [2010-01, 2016-12]    every target month of a train window lies in this range;
        val:   [2017-01, 2017-12]    the normaliser and the climatologies use train months only
        test:  [2018-01, 2020-12]
    model: {hidden, kernels, trunk_channels, embed, head_hidden, loss_weights}
    eval: {batch_size, figures}

A window's inputs may precede its split (they are observed past); its targets never leave it,
so no target month of the validation or test split is ever trained on.
"""

from __future__ import annotations

from typing import Any

from geostl.runconfig.spec import RUN_SPEC, Field, Section

__all__ = ["ENSO_SPEC"]


def _f(kind: str, default: Any, **kw: Any) -> Field:
    return Field(kind, default, **kw)


ENSO_SPEC = Section(
    {
        "task": _f("str", "enso", choices=("enso",)),
        "run": RUN_SPEC.keys["run"],
        "data": Section(
            {
                "sources": RUN_SPEC.keys["data"].keys["sources"],
                "variable": _f("str", "sst"),
                "index": _f("str", "nino34_anom"),
                "lat_range": _f("list", [-55.0, 60.0], items="float"),
                "stride": _f("int", 2, minimum=1),
                "n_input": _f("int", 6, minimum=1),
                "n_leads": _f("int", 6, minimum=1),
                "splits": Section(
                    {
                        "train": _f("list", ["2010-01", "2016-12"], items="str"),
                        "val": _f("list", ["2017-01", "2017-12"], items="str"),
                        "test": _f("list", ["2018-01", "2020-12"], items="str"),
                    }
                ),
            },
            required=True,
        ),
        "model": Section(
            {
                "hidden": _f("list", [16, 16, 32], items="int"),
                "kernels": _f("list", [3, 3, 5], items="int"),
                "trunk_channels": _f("int", 32, minimum=1),
                "embed": _f("int", 64, minimum=1),
                "head_hidden": _f("int", 128, minimum=1),
                "loss_weights": _f("list", [0.2, 0.4, 0.4], items="float"),
            }
        ),
        "train": RUN_SPEC.keys["train"],
        "eval": Section(
            {
                "batch_size": _f("int", 32, minimum=1),
                "figures": _f("bool", True),
            }
        ),
    },
    required=True,
)
