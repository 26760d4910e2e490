"""The weight average's two pieces: the warmed-up update and standing batch-norm statistics."""

import torch
from torch import nn

from latentworks.models.ema import standing_statistics, update_average


def test_update_average_warms_up_then_uses_the_decay():
    live, avg = nn.Linear(3, 2), nn.Linear(3, 2)
    with torch.no_grad():
        for p in avg.parameters():
            p.zero_()
        for p in live.parameters():
            p.fill_(1.0)
    update_average(avg, live, decay=0.999, updates=0)  # d = 1/10
    assert torch.allclose(avg.weight, torch.full_like(avg.weight, 0.9))
    update_average(avg, live, decay=0.5, updates=1000)  # d = min(0.5, 1001/1010) = 0.5
    assert torch.allclose(avg.weight, torch.full_like(avg.weight, 0.95))


def test_standing_statistics_are_the_plain_average_over_batches_and_restore_the_mode():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.BatchNorm1d(2)).eval()
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
    batches = [torch.randn(32, 2, generator=torch.Generator().manual_seed(i)) + i for i in range(4)]
    standing_statistics(net, lambda i: net(batches[i]), batches=4)
    expected_mean = torch.stack([b.mean(0) for b in batches]).mean(0)
    expected_var = torch.stack([b.var(0) for b in batches]).mean(0)  # unbiased per batch, as batch norm keeps
    assert torch.allclose(net[1].running_mean, expected_mean, atol=1e-6)
    assert torch.allclose(net[1].running_var, expected_var, atol=1e-5)
    assert net.training is False and net[1].momentum == 0.1


def test_standing_statistics_without_batch_norm_is_a_no_op():
    calls = []
    standing_statistics(nn.Linear(2, 2), lambda i: calls.append(i))
    assert calls == []

