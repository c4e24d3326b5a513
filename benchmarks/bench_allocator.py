"""Step times of the demo's ConvLSTM with and without geostl's allocator tuning.

Each case runs in a fresh subprocess (the allocator state is per process): it builds the demo's
data and model, loads six training batches of 8 and times six forward + backward + Adam steps.

    .venv/bin/python benchmarks/bench_allocator.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def run_case() -> dict:
    from geostl.allocator import tune_allocator

    tuned = tune_allocator()
    import torch

    from geostl.commands.demo import DEMO_RUN_CONFIG
    from geostl.commands.run import prepare
    from geostl.models import build_forecaster, meta_from_dataset
    from geostl.runconfig import check, fill_defaults

    torch.manual_seed(0)
    cfg = fill_defaults(check(DEMO_RUN_CONFIG, complete=True))
    _, datasets = prepare(cfg)
    model = build_forecaster(cfg["model"], meta_from_dataset(datasets["train"]))
    model.fit_baseline(datasets["train"], datasets["val"])  # the demo's blend (model.baseline)
    loader = torch.utils.data.DataLoader(datasets["train"], batch_size=8, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    t = time.perf_counter()
    batches = [b for _, b in zip(range(6), loader, strict=False)]
    load_s = time.perf_counter() - t
    steps = []
    for b in batches:
        t = time.perf_counter()
        out = model(b, teacher_forcing=1.0)
        loss = ((out["pred"] - b["targets"]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps.append(time.perf_counter() - t)
    return {"tuned": tuned, "load_6_batches_s": load_s, "step_s": steps}


def main() -> None:
    if "--case" in sys.argv:
        print(json.dumps(run_case()))
        return
    rows = []
    for setting in ("0", "1"):
        env = dict(os.environ, GEOSTL_MALLOC_TUNING=setting)
        out = subprocess.run(
            [sys.executable, __file__, "--case"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    for r in rows:
        steps = ", ".join(f"{s:.2f}" for s in r["step_s"])
        print(
            f"tuning {'on ' if r['tuned'] else 'off'}: "
            f"load 6 batches {r['load_6_batches_s']:.2f} s; steps {steps} s"
        )


if __name__ == "__main__":
    main()
