"""Heterogeneous GNN: HeteroData building, sampling, models, training, inference, explanations."""
