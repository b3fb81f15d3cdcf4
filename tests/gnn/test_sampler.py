"""The pure-PyTorch neighbour sampler: exact fan-out, right neighbours, PyG loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import HeteroData
from torch_geometric.loader import NodeLoader

from riskgraph.errors import ModelError
from riskgraph.gnn.sampler import HeteroNeighborSampler, sample_neighbors

USES = ("user", "uses", "device")
REV = ("device", "rev_uses", "user")


def star_graph() -> HeteroData:
    """user 0 uses devices 0-5; user 1 uses device 0; user 2 uses devices 6, 7;
    device 6 is also used by users 3-12 (ten more users)."""
    pairs = [(0, d) for d in range(6)] + [(1, 0), (2, 6), (2, 7)] + [(u, 6) for u in range(3, 13)]
    src = torch.tensor([p[0] for p in pairs])
    dst = torch.tensor([p[1] for p in pairs])
    data = HeteroData()
    data["user"].num_nodes = 13
    data["device"].num_nodes = 8
    data[USES].edge_index = torch.stack([src, dst])
    data[REV].edge_index = torch.stack([dst, src])
    return data


def neighbours(data: HeteroData, edge_type: tuple[str, str, str], node: int) -> set[int]:
    ei = data[edge_type].edge_index
    return set(ei[0][ei[1] == node].tolist())


def test_fanout_is_exact_and_from_the_right_neighbours() -> None:
    data = star_graph()
    sampler = HeteroNeighborSampler(data, {REV: [3], USES: [3]}, seed=1)
    out = sampler.sample("user", torch.tensor([0]))
    # user 0 has six devices: exactly three, all of them user 0's, all distinct
    devices = out.node["device"].tolist()
    assert len(devices) == 3
    assert len(set(devices)) == 3
    assert set(devices) <= set(range(6))
    assert out.num_sampled_edges[REV] == [3]
    # every sampled edge points at user 0 and comes from one of its devices
    assert out.global_col[REV].tolist() == [0, 0, 0]
    assert set(out.global_row[REV].tolist()) == set(devices)


def test_fewer_neighbours_than_fanout_gives_all_of_them() -> None:
    data = star_graph()
    sampler = HeteroNeighborSampler(data, {REV: [10], USES: [10]}, seed=0)
    out = sampler.sample("user", torch.tensor([2, 1]))
    assert sorted(out.node["device"].tolist()) == [0, 6, 7]
    pairs = set(zip(out.global_row[REV].tolist(), out.global_col[REV].tolist(), strict=True))
    assert pairs == {(6, 2), (7, 2), (0, 1)}


def test_second_hop_expands_new_nodes_with_their_own_fanout() -> None:
    data = star_graph()
    sampler = HeteroNeighborSampler(data, {REV: [5, 0], USES: [0, 4]}, seed=3)
    out = sampler.sample("user", torch.tensor([2]))
    # hop 1: devices 6 and 7; hop 2: device 6 has users 2-12 -> 4 sampled, device 7 only user 2
    assert out.num_sampled_nodes["device"] == [0, 2, 0]
    rows, cols = out.global_row[USES].tolist(), out.global_col[USES].tolist()
    assert cols.count(6) == 4 and cols.count(7) == 1
    for u, d in zip(rows, cols, strict=True):
        assert u in neighbours(data, USES, d)
    assert out.node["user"][0].item() == 2  # the seed keeps local index 0
    users = out.node["user"].tolist()
    assert len(users) == len(set(users))


def test_minus_one_takes_every_neighbour() -> None:
    data = star_graph()
    out = HeteroNeighborSampler(data, {REV: [-1], USES: [-1]}).sample("user", torch.tensor([0]))
    assert sorted(out.node["device"].tolist()) == list(range(6))


@pytest.mark.parametrize("degree", [7, 40])  # 7 < 4k: random keys; 40 >= 4k: redraws
def test_sampling_is_uniform_without_replacement(degree: int) -> None:
    k = 5
    colptr = torch.tensor([0, degree])
    gen = torch.Generator().manual_seed(0)
    hits = np.zeros(degree)
    for _ in range(2000):
        owner, pos = sample_neighbors(colptr, torch.tensor([0]), k, gen)
        assert owner.tolist() == [0] * k
        assert pos.unique().numel() == k
        hits[pos.numpy()] += 1
    expected = 2000 * k / degree
    assert np.abs(hits - expected).max() < 5 * np.sqrt(expected)


def test_same_seed_same_subgraph() -> None:
    data = star_graph()
    a = HeteroNeighborSampler(data, [2, 2], seed=7).sample("user", torch.tensor([0, 2]))
    b = HeteroNeighborSampler(data, [2, 2], seed=7).sample("user", torch.tensor([0, 2]))
    for t in a.node:
        assert torch.equal(a.node[t], b.node[t])


def test_node_loader_batches_carry_original_edges_and_features() -> None:
    data = star_graph()
    data["user"].x = torch.arange(13, dtype=torch.float32).view(-1, 1)
    sampler = HeteroNeighborSampler(data, [4, 3], seed=0)
    loader = NodeLoader(data, sampler, input_nodes=("user", torch.tensor([0, 2, 5])), batch_size=2)
    seen = []
    for batch in loader:
        n_id = batch["user"].n_id
        seen += n_id[: batch["user"].batch_size].tolist()
        assert torch.equal(batch["user"].x.view(-1), n_id.float())  # features follow the nodes
        for et in (USES, REV):
            ei = batch[et].edge_index
            src_type, _, dst_type = et
            glob = torch.stack([batch[src_type].n_id[ei[0]], batch[dst_type].n_id[ei[1]]])
            assert torch.equal(glob, data[et].edge_index[:, batch[et].e_id])
    assert seen == [0, 2, 5]


def test_errors_name_the_problem() -> None:
    data = star_graph()
    with pytest.raises(ModelError, match=r"edge type .*'nope'"):
        HeteroNeighborSampler(data, {("user", "nope", "device"): [1]})
    with pytest.raises(ModelError, match="same number of hops"):
        HeteroNeighborSampler(data, {USES: [1], REV: [1, 2]})
    sampler = HeteroNeighborSampler(data, [1])
    with pytest.raises(ModelError, match=r"seed user index out of range \[0, 13\)"):
        sampler.sample("user", torch.tensor([13]))
    with pytest.raises(ModelError, match="distinct"):
        sampler.sample("user", torch.tensor([1, 1]))
