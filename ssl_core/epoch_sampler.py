"""A seeded, shardable, resumable order of training examples, and the loader that saves it."""

from __future__ import annotations

import torch
import torch.distributed as dist
from pytorch_lightning.callbacks import Callback
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler):
    """Yields ``(index, epoch)`` keys: epoch e is ``randperm(n)`` seeded with ``seed + e``.

    Global batch b is ``perm[b*B*W : (b+1)*B*W]`` (B per process, W processes);
    process r takes its r-th slice of B, so gathering the processes' batches in
    rank order gives back the single-process batch of size B*W. The last
    incomplete global batch is dropped. After :meth:`resume` the first
    ``consumed`` batches of that epoch are skipped.

    ``rank`` ``None`` (the default) is this process's rank in the default
    ``torch.distributed`` group when the epoch is iterated (0 without one), so
    the sampler of a DDP run needs no setting by the trainer.

    ``consumed`` counts batches *trained on* in the current epoch; the
    :class:`TrainedBatches` callback increments it after each step
    (prefetching would make a count of batches *yielded* run ahead).
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int | None = None, world_size: int = 1):
        if n < batch_size * world_size:
            raise ValueError(f"the dataset has {n} examples, fewer than one global batch of "
                             f"{batch_size * world_size} (train.batch_size x processes); lower train.batch_size")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.consumed = 0
        self._resume: tuple[int, int] | None = None

    @property
    def batches_per_epoch(self) -> int:
        return self.n // (self.batch_size * self.world_size)

    def process_rank(self) -> int:
        """``rank`` if given, else this process's rank in the default process group (0 without one)."""
        if self.rank is not None:
            return self.rank
        distributed = dist.is_available() and dist.is_initialized()
        rank = dist.get_rank() if distributed else 0
        if distributed and dist.get_world_size() != self.world_size:
            raise RuntimeError(f"the sampler was built for {self.world_size} processes but the process group has "
                               f"{dist.get_world_size()}")
        return rank

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, consumed: int) -> None:
        """Skip the first ``consumed`` batches when ``epoch`` is next iterated."""
        self._resume = (epoch, consumed)

    def __len__(self) -> int:
        return self.batches_per_epoch * self.batch_size

    def __iter__(self):
        skip = 0
        if self._resume is not None and self._resume[0] == self.epoch:
            skip = self._resume[1]
        self._resume = None
        self.consumed = skip
        perm = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        global_batch = self.batch_size * self.world_size
        rank = self.process_rank()
        for b in range(skip, self.batches_per_epoch):
            start = b * global_batch + rank * self.batch_size
            for i in perm[start : start + self.batch_size].tolist():
                yield i, self.epoch


class ResumableLoader(DataLoader):
    """A DataLoader over an :class:`EpochSampler` whose position Lightning saves in checkpoints.

    Lightning stores ``state_dict()`` of loaders that have one and hands it
    back through ``load_state_dict()`` on resume, so a run stopped mid-epoch
    continues with the very next batch.
    """

    def __init__(self, dataset, sampler: EpochSampler, num_workers: int = 0, **kwargs):
        super().__init__(dataset, batch_size=sampler.batch_size, sampler=sampler, num_workers=num_workers,
                         drop_last=True, generator=torch.Generator().manual_seed(sampler.seed),
                         persistent_workers=False, **kwargs)

    def batch_trained(self) -> None:
        """One more batch of the current epoch was trained on (saved by :meth:`state_dict`)."""
        self.sampler.consumed += 1

    def state_dict(self) -> dict:
        return {"epoch": self.sampler.epoch, "consumed": self.sampler.consumed}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.resume(int(state["epoch"]), int(state["consumed"]))


class TrainedBatches(Callback):
    """Counts the batches trained on in the loader's own position (``sampler.consumed``).

    It must run before any callback that writes a checkpoint in the same
    ``on_train_batch_end``, so that the saved position includes the batch
    just trained on.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loader = trainer.train_dataloader
        if isinstance(loader, ResumableLoader):
            loader.batch_trained()
