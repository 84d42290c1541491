"""Running the one trainer under ``torchrun``: process-group set-up and the per-chunk random streams.

A step's global batch is world_size x accumulate chunks of config.batch_size rows. Chunk c of step s draws its
rows and its loss noise from a generator seeded by (seed, s, c) alone, and rank r trains chunks
r * accumulate ... (r + 1) * accumulate - 1. So a run is the same computation whatever the split between
processes and accumulation (2 processes x 1 chunk = 1 process x 2 chunks, up to float summation order), and
resuming needs no per-rank random state: a state written by any world size resumes under any other.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Rank:
    """This process in the run: rank / world (0 / 1 without torchrun)."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current_rank() -> Rank:
    if dist.is_available() and dist.is_initialized():
        return Rank(dist.get_rank(), dist.get_world_size())
    return Rank()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> torch.device:
    """Join torchrun's process group (NCCL on CUDA, gloo on CPU) when launched by it; returns this rank's device
    (cuda:LOCAL_RANK on GPUs). Without torchrun: the device unchanged."""
    if not launched_by_torchrun() or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def teardown(finished: bool) -> None:
    """Leave the process group. After a finished run the ranks leave together: a rank that destroys it while another
    still writes its checkpoint can make gloo abort at exit ("terminate called without an active exception"). After
    an error no barrier (the other ranks would never reach it; torchrun stops them)."""
    if dist.is_available() and dist.is_initialized():
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def chunk_seed(seed: int, step: int, chunk: int) -> int:
    """A 63-bit seed of (seed, step, chunk), independent of the process that trains the chunk."""
    return int(hashlib.sha256(f"{seed}:{step}:{chunk}".encode()).hexdigest()[:15], 16)


def chunk_generator(seed: int, step: int, chunk: int) -> torch.Generator:
    """The chunk's data/noise generator; also seeds torch's global streams (dropout) the same way."""
    value = chunk_seed(seed, step, chunk)
    torch.manual_seed(value)
    return torch.Generator().manual_seed(value)


def average(values: dict[str, float], rank: Rank, device: torch.device) -> dict[str, float]:
    """The mean of each value over the ranks (every rank must call it with the same keys)."""
    if rank.world == 1:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / rank.world).tolist()))
