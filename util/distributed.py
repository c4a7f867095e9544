"""Multi-process training with torchrun: process-group set-up, rank helpers, DDP wrapping and unwrapping.

torchrun sets RANK, LOCAL_RANK and WORLD_SIZE; without them everything here is a single-process no-op.
"""
import hashlib
import os
import sys
import threading
import time
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from util.errors import UserError


def launched_by_torchrun() -> bool:
    return 'RANK' in os.environ and 'WORLD_SIZE' in os.environ


def restart_count() -> int:
    """How many times torchrun (with --max-restarts) has restarted this run's workers; 0 for a first run."""
    return int(os.environ.get('TORCHELASTIC_RESTART_COUNT') or 0)


def get_rank() -> int:
    return dist.get_rank() if dist.is_initialized() else int(os.environ.get('RANK', 0))


def get_world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else int(os.environ.get('WORLD_SIZE', 1))


def is_main_process() -> bool:
    """Rank 0 alone writes logs, pages, options files and checkpoints; true in a plain run."""
    return get_rank() == 0


def is_distributed() -> bool:
    return dist.is_initialized()


def rank_gpu_ids(gpu_ids: list[int]) -> list[int]:
    """The GPUs of --gpu_ids this process uses: all of them in a plain run, the local rank's one under torchrun."""
    if not launched_by_torchrun() or not gpu_ids or not torch.cuda.is_available():
        return gpu_ids
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    if local_rank >= len(gpu_ids):
        raise UserError(f'--gpu_ids {",".join(map(str, gpu_ids))}: torchrun started local rank {local_rank}; '
                        'give one GPU id per process or lower --nproc_per_node')
    return [gpu_ids[local_rank]]


def init_distributed(gpu_ids: list[int]) -> None:
    """Join the torchrun process group (nccl with CUDA, gloo on CPU) and mute stdout off rank 0."""
    if not launched_by_torchrun() or dist.is_initialized():
        return
    use_cuda = bool(gpu_ids) and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(rank_gpu_ids(gpu_ids)[0])
    backend = 'nccl' if use_cuda else 'gloo'
    if restart_count():
        # A restarted worker group can be handed the store of the round that failed, whose keys still name the dead
        # workers' addresses (seen: gloo "connectFullMesh failed ... Connection refused"); keys of its own avoid them.
        store, rank, world_size = next(dist.rendezvous('env://'))
        dist.init_process_group(backend=backend, store=dist.PrefixStore(f'restart_{restart_count()}', store),
                                rank=rank, world_size=world_size)
    else:
        dist.init_process_group(backend=backend)
    Heartbeat.start()
    if is_main_process():
        print(f'torchrun: {get_world_size()} processes joined with the {backend} backend')
    else:
        sys.stdout = open(os.devnull, 'w')


def shutdown() -> None:
    if dist.is_initialized():
        Heartbeat.leave()
        dist.destroy_process_group()


def stalled_peers() -> list[int]:
    """The other ranks that neither beat nor left within Heartbeat.WINDOW seconds (stopped, hung or gone)."""
    return Heartbeat.stalled_peers() if is_distributed() else []


class Heartbeat:
    """Each rank's thread advances a counter in torchrun's store, so a rank can tell a peer that is slow (its
    counter moves) from one that is stopped or dead (it does not), even while its own main thread waits in a
    collective. The store is reached through a client of its own, used by this module's threads alone."""
    PERIOD = 0.5
    WINDOW = 5.0
    store: dist.Store | None = None

    @classmethod
    def start(cls) -> None:
        client = dist.TCPStore(os.environ['MASTER_ADDR'], int(os.environ['MASTER_PORT']), is_master=False,
                               timeout=timedelta(seconds=5))
        cls.store = dist.PrefixStore(f'heartbeat_{restart_count()}', client)
        threading.Thread(target=cls.beat, args=(get_rank(),), name='heartbeat', daemon=True).start()

    @classmethod
    def beat(cls, rank: int) -> None:
        try:
            while True:
                cls.store.add(f'beat_{rank}', 1)
                time.sleep(cls.PERIOD)
        except RuntimeError:  # the store went away with torchrun: nobody is left to read the counter
            pass

    @classmethod
    def leave(cls) -> None:
        """Mark this rank as ended on purpose, so that peers still saving do not take it for a dead one."""
        try:
            cls.store.set(f'left_{get_rank()}', '1')
        except RuntimeError:
            pass

    @classmethod
    def stalled_peers(cls) -> list[int]:
        peers = [rank for rank in range(get_world_size()) if rank != get_rank()]
        try:
            before = {rank: cls.store.add(f'beat_{rank}', 0) for rank in peers}
            time.sleep(cls.WINDOW)
            return [rank for rank in peers if cls.store.add(f'beat_{rank}', 0) == before[rank]
                    and not cls.store.check([f'left_{rank}'])]
        except RuntimeError:  # the store itself is unreachable: no peer can be reached either
            return peers


def gather_objects(obj) -> list | None:
    """Every rank's `obj` in rank order, on rank 0 (None on the others); [obj] in a plain run."""
    if not is_distributed():
        return [obj]
    gathered: list | None = [None] * get_world_size() if is_main_process() else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def broadcast_from_main(obj):
    """Rank 0's `obj` on every rank, so that all take the same decision; `obj` itself in a plain run."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def reduce_over_ranks(values: list[float], op: str = 'sum') -> list[float]:
    """Element-wise sum ('sum') or maximum ('max') of a few numbers over all ranks; `values` in a plain run."""
    if not is_distributed():
        return values
    device = torch.device('cuda', torch.cuda.current_device()) if dist.get_backend() == 'nccl' else torch.device('cpu')
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX if op == 'max' else dist.ReduceOp.SUM)
    return tensor.tolist()


def wrap_ddp(net: nn.Module, device: torch.device, sync_batchnorm: bool) -> nn.Module:
    """Wrap for gradient averaging across ranks; --norm syncbatch turns BatchNorm into SyncBatchNorm first.

    Buffers are not broadcast at each forward: D runs twice (fake, real) before its backward, and on CUDA the
    broadcast's in-place copy into BatchNorm's running statistics breaks that backward (seen on an H200 with nccl).
    Rank 0's statistics, the ones saved, are the same either way: the broadcast only ever overwrote the others'."""
    if not is_distributed() or not any(param.requires_grad for param in net.parameters()):
        return net  # nothing to average: a network kept fixed (net E under --load_features)
    if sync_batchnorm and get_world_size() > 1:
        if device.type != 'cuda':
            raise UserError('--norm syncbatch synchronizes statistics only between GPUs (nccl); on CPU use --norm batch')
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == 'cuda' else None,
                                   broadcast_buffers=False)


def without_ddp(net: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (still compiled if it was): a forward through it syncs nothing."""
    return net.module if isinstance(net, DistributedDataParallel) else net


def unwrap(net: nn.Module) -> nn.Module:
    """The plain module under DDP and torch.compile wrappers, whose state_dict has the reference's keys."""
    while True:
        if isinstance(net, DistributedDataParallel):
            net = net.module
        elif hasattr(net, '_orig_mod'):
            net = net._orig_mod
        else:
            return net


def parameters_digest(net: nn.Module) -> str:
    """sha256 of the parameters' bytes in sorted name order (buffers such as BatchNorm statistics excluded)."""
    digest = hashlib.sha256()
    for name, param in sorted(unwrap(net).named_parameters()):
        digest.update(name.encode())
        digest.update(param.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def report_replicas(nets: dict[str, nn.Module]) -> bool:
    """Gather each rank's parameter digests; rank 0 prints them and whether all ranks agree."""
    if not is_distributed():
        return True
    digests = {name: parameters_digest(net) for name, net in nets.items()}
    gathered: list[dict[str, str] | None] = [None] * get_world_size()
    dist.all_gather_object(gathered, digests)
    identical = all(other == gathered[0] for other in gathered)
    if is_main_process():
        for name in nets:
            print(f'[net {name}] parameter digests by rank: {" ".join(d[name] for d in gathered)}')
        print('all ranks hold identical parameters' if identical else
              'warning: ranks hold different parameters; the checkpoint is rank 0\'s')
    return identical
