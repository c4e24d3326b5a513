"""Model complexity and speed: parameters, FLOPs/MACs, throughput, peak memory.

Public API::

    from geostl.benchmark import benchmark_model, backbone_inputs_fn, bench_to_markdown
    res = benchmark_model(net, backbone_inputs_fn((12, 1, 72, 72), 1, 12), batch_size=4,
                          train_inputs_fn=backbone_inputs_fn((12, 1, 72, 72), 1, 12, train=True))
    print(bench_to_markdown([res])); bench_to_json([res], "bench.json")
"""

from .flops import FLOPS_NOTE, FlopCount, conv_backward_flops, count_flops, default_loss
from .matmul import measure_matmul_flops
from .memory import peak_memory
from .report import bench_from_json, bench_to_json, bench_to_markdown
from .run import backbone_inputs_fn, benchmark_backbone, benchmark_model, resolve_device

__all__ = [
    "FLOPS_NOTE",
    "FlopCount",
    "backbone_inputs_fn",
    "benchmark_backbone",
    "bench_from_json",
    "bench_to_json",
    "bench_to_markdown",
    "conv_backward_flops",
    "benchmark_model",
    "count_flops",
    "default_loss",
    "measure_matmul_flops",
    "peak_memory",
    "resolve_device",
]
