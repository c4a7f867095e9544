"""The one place that answers device questions: which device --gpu_ids means, and what it computes natively."""
import ctypes
import ctypes.util
import os
import platform
import resource
import warnings

import torch

# oneDNN ISA limits (ONEDNN_MAX_CPU_ISA) below which bfloat16 convolutions are emulated, not native.
ONEDNN_ISAS_WITHOUT_BF16 = {'SSE41', 'AVX', 'AVX2', 'AVX2_VNNI', 'AVX2_VNNI_2', 'AVX512_CORE', 'AVX512_CORE_VNNI'}


def select_device(gpu_ids: list[int]) -> torch.device:
    """Turn --gpu_ids into a device; falls back to the CPU with one warning when CUDA is absent."""
    if not gpu_ids:
        return torch.device('cpu')
    if not torch.cuda.is_available():
        warnings.warn(f'--gpu_ids {",".join(map(str, gpu_ids))} asked for CUDA but none is available; running on the CPU', stacklevel=2)
        return torch.device('cpu')
    torch.cuda.set_device(gpu_ids[0])
    return torch.device('cuda', gpu_ids[0])


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity, as torch's DataLoader counts them), at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


def is_x86() -> bool:
    return platform.machine().lower() in ('x86_64', 'amd64', 'i386', 'i686')


def cpu_capabilities() -> dict[str, object]:
    """What torch sees of this CPU: its kernel level (ATEN_CPU_CAPABILITY applies) and the x86 extensions."""
    caps: dict[str, object] = {'arch': platform.machine(), 'torch_capability': torch.backends.cpu.get_cpu_capability()}
    if is_x86():
        caps.update(avx2=torch.cpu._is_avx2_supported(), avx512=torch.cpu._is_avx512_supported(),
                    avx512_bf16=torch.cpu._is_avx512_bf16_supported(), amx=torch.cpu._is_amx_tile_supported())
    caps['onednn_max_cpu_isa'] = os.environ.get('ONEDNN_MAX_CPU_ISA') or os.environ.get('DNNL_MAX_CPU_ISA')
    caps['native_bf16'] = cpu_has_native_bf16()
    return caps


def cpu_has_native_bf16() -> bool:
    """True where bfloat16 convolutions run in hardware: AVX512-BF16 or AMX on x86, bf16 instructions on ARM."""
    if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    if not is_x86():
        return True
    isa_limit = (os.environ.get('ONEDNN_MAX_CPU_ISA') or os.environ.get('DNNL_MAX_CPU_ISA') or '').upper()
    return (torch.backends.cpu.get_cpu_capability().startswith('AVX512') and isa_limit not in ONEDNN_ISAS_WITHOUT_BF16
            and (torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()))


def native_autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The low-precision dtype the device computes natively (bf16, else fp16 on tensor-core GPUs), or None."""
    if device.type == 'cuda':
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return torch.bfloat16
        major, minor = torch.cuda.get_device_capability(device)
        return torch.float16 if major >= 7 or (major, minor) == (6, 0) else None
    return torch.bfloat16 if cpu_has_native_bf16() else None


def return_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's malloc_trim), where the process freed large tensors
    that the heap would otherwise keep: the resident size falls to what is in use. A no-op elsewhere."""
    libc_name = ctypes.util.find_library('c')
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is not None and hasattr(libc, 'malloc_trim'):
        libc.malloc_trim(0)


def describe_peak_memory(device: torch.device) -> str:
    """This process's peak memory so far: what torch allocated on a GPU, the resident set on the CPU."""
    if device.type == 'cuda':
        return f'peak GPU memory {torch.cuda.max_memory_allocated(device) / 2 ** 30:.2f} GiB (allocated by torch)'
    return f'peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20:.2f} GiB (resident, this process)'


def describe_device(device: torch.device) -> str:
    """A short name of the device for log lines and benchmark reports."""
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            name = next(line.split(':', 1)[1].strip() for line in cpuinfo if line.startswith('model name'))
    except (OSError, StopIteration):
        pass
    return f'{name} ({torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()})'
