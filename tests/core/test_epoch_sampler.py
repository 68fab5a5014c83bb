"""EpochSampler and ResumableLoader: seeded order, DDP slices, the resumable position."""

from __future__ import annotations

import pytest
import torch

from ssl_core.epoch_sampler import EpochSampler, ResumableLoader


def batches(sampler):
    keys = list(sampler)
    return [keys[i : i + sampler.batch_size] for i in range(0, len(keys), sampler.batch_size)]


def test_epoch_e_is_randperm_seeded_with_seed_plus_e_and_the_last_incomplete_batch_is_dropped():
    sampler = EpochSampler(10, 3, seed=5)
    sampler.set_epoch(2)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(7)).tolist()
    assert list(sampler) == [(i, 2) for i in perm[:9]] and len(sampler) == 9 and sampler.batches_per_epoch == 3


def test_the_ranks_slices_of_a_global_batch_are_the_single_process_batch():
    single = batches(EpochSampler(20, 4, seed=1))
    ranks = [batches(EpochSampler(20, 2, seed=1, rank=r, world_size=2)) for r in (0, 1)]
    assert [a + b for a, b in zip(*ranks)] == single
    assert EpochSampler(20, 2, seed=1, world_size=2).process_rank() == 0  # no process group: rank 0


def test_resume_skips_the_batches_already_trained_on_in_that_epoch_only():
    sampler = EpochSampler(12, 2, seed=0)
    sampler.set_epoch(1)
    full = batches(sampler)
    sampler.resume(1, 4)
    assert batches(sampler) == full[4:] and sampler.consumed == 4
    assert batches(sampler) == full  # the skip applies once
    sampler.resume(0, 4)
    assert batches(sampler) == full  # to its own epoch only


class Indices(torch.utils.data.Dataset):
    """Items are the example indices of the sampler's ``(index, epoch)`` keys."""

    def __len__(self):
        return 12

    def __getitem__(self, key):
        return key[0]


def test_the_loader_saves_the_count_of_batches_trained_on():
    sampler = EpochSampler(12, 2, seed=0)
    loader = ResumableLoader(Indices(), sampler)
    sampler.set_epoch(3)
    iterator = iter(loader)
    next(iterator), next(iterator)  # fetched (prefetching) but only one trained on
    loader.batch_trained()
    assert loader.state_dict() == {"epoch": 3, "consumed": 1}
    other = ResumableLoader(Indices(), EpochSampler(12, 2, seed=0))
    other.load_state_dict(loader.state_dict())
    other.sampler.set_epoch(3)
    assert [b.tolist() for b in other] == [b.tolist() for b in list(loader)][1:]


def test_a_dataset_smaller_than_one_global_batch_is_refused():
    with pytest.raises(ValueError, match="fewer than one global batch of 8"):
        EpochSampler(7, 4, seed=0, world_size=2)
