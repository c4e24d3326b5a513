"""The ENSO task (Keydana 2021, "Forecasting El Niño-Southern Oscillation with torch").

Targets from the Niño indices (:mod:`.targets`), windows (:mod:`.windows`, :mod:`.dataset`),
the multi-task ConvLSTM with its registered index and phase heads (:mod:`.model`), its loss
(:mod:`.loss`) and Trainer wrapper (:mod:`.forecaster`), whole-array reference metrics
(:mod:`.metrics`) and their additive-sum form (:mod:`.scores`), figures (:mod:`.figures`) and
the ``enso`` task (:mod:`.task`: ``task: enso`` run configs, ``geostl enso``).
"""
