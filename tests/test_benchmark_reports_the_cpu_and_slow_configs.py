"""bench/benchmark.py names the CPU's capabilities and kind in its report and cuts off a configuration that is too
slow instead of waiting for it."""
from bench import benchmark
from util.hardware import cpu_capabilities


def test_a_configuration_past_the_time_limit_is_reported_not_waited_for():
    ok, why = benchmark.survives_time_limit('plain', 'cpu', 1, limit_s=0.5)
    assert not ok and why.startswith('too slow: building it and running 2 training steps took more than')


def test_the_report_names_the_cpu_capabilities_and_kind():
    caps = cpu_capabilities()
    assert {'torch_capability', 'native_bf16', 'onednn_max_cpu_isa'} <= caps.keys()
    assert benchmark.device_kind('cpu', {**caps, 'torch_capability': 'AVX2', 'native_bf16': False}) == 'avx2'
    assert benchmark.device_kind('cpu', {**caps, 'amx': True, 'native_bf16': True}) == 'amx'
    assert benchmark.device_kind('cpu', {**caps, 'amx': False, 'avx512_bf16': True, 'native_bf16': True}) == 'avx512_bf16'
