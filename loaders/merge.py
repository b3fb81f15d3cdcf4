"""Union of several ``GraphTables`` (or their id-keyed rows) into one graph.

The online scorer assembles what the nightly feature code consumes from three parts:
last night's graph, what the live lookup found in Neo4j since, and the applicants of
the request. :func:`id_rows` turns a graph into tables keyed by string ids (the form
every part shares), :func:`merge_id_rows` unions them key by key, and
:func:`graph_from_id_rows` rebuilds the integer-indexed :class:`GraphTables`, nodes
sorted by id as every builder sorts them, so that a graph merged with nothing new
equals the graph it came from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from riskgraph.loaders.schema import INPUT_TABLES, NODE_TYPES, RELATIONSHIPS, references_into
from riskgraph.loaders.tables import (
    NO_INDEX,
    GraphTables,
    canonical_order,
    empty_graph_tables,
    first_given,
    index_of,
)

__all__ = [
    "ID_ROW_KEYS",
    "IdRows",
    "graph_from_id_rows",
    "id_rows",
    "merge_id_rows",
    "named_ids",
]

#: Id-keyed tables: name -> DataFrame with string id columns in place of indices.
IdRows = dict[str, pd.DataFrame]


def _id_row_keys() -> dict[str, list[str]]:
    """Key columns of every GraphTables table in id-keyed form, from the schema: a node
    table's id; an edge table's input key (ids of both ends, then e.g. ``tie_type``)."""
    keys = {name: [node.key.name] for name, node in NODE_TYPES.items()}
    for rel in RELATIONSHIPS.values():
        if rel.table not in keys:
            keys[rel.table] = list(INPUT_TABLES[rel.table].key)
    return keys


def _references() -> dict[str, dict[str, tuple[str, str, str, bool]]]:
    """Per table, each index column: its node table, that node's id column, the id
    column of the id-keyed row, and whether the column may name no node."""
    refs: dict[str, dict[str, tuple[str, str, str, bool]]] = {}
    for rel in RELATIONSHIPS.values():
        for end in (rel.start, rel.end):
            if end.column is not None:
                node_id = NODE_TYPES[end.node].key.name
                refs.setdefault(rel.table, {})[end.column] = (
                    end.node,
                    node_id,
                    str(end.input),
                    rel.optional,
                )
    return refs


#: Key columns of each id-keyed table: rows with the same key are one row.
ID_ROW_KEYS: dict[str, list[str]] = _id_row_keys()

# Index column -> (node table, its id column, the id column of the id-keyed row, nullable).
_REFERENCES = _references()


def id_rows(tables: GraphTables) -> IdRows:
    """Every table of ``tables`` with its index columns replaced by the ids they point at.

    Parameters
    ----------
    tables : GraphTables

    Returns
    -------
    dict of str to DataFrame
        Node tables as they are; edge tables and applications with ``user_id``,
        ``device_id`` (``<NA>`` for none), ``account_id``, ``platform_id``,
        ``src_user_id`` / ``dst_user_id`` in place of the ``*_idx`` columns.
    """
    out: IdRows = {}
    for name, table in tables.tables():
        refs = _REFERENCES.get(name)
        if refs is None:
            out[name] = table
            continue
        frame = table.copy()
        for column, (node_table, node_id, id_column, _) in refs.items():
            ids = getattr(tables, node_table)[node_id].to_numpy(dtype=object)
            idx = frame.pop(column).to_numpy()
            values = np.full(len(idx), None, dtype=object)
            present = idx != NO_INDEX
            values[present] = ids[idx[present]]
            frame[id_column] = pd.array(values, dtype="string")
        out[name] = frame
    return out


def merge_id_rows(parts: Sequence[Mapping[str, pd.DataFrame]]) -> IdRows:
    """Union id-keyed tables; of rows sharing a key, the one of the later part wins.

    Parameters
    ----------
    parts : sequence of mappings
        Each from :func:`id_rows` (a part may lack tables). Later parts are newer.

    Returns
    -------
    dict of str to DataFrame
        Every table of :data:`ID_ROW_KEYS` that some part holds; user attribute columns are the union of
        the parts' (missing values where a part lacks one).
    """
    out: IdRows = {}
    for name, keys in ID_ROW_KEYS.items():
        held = [p[name] for p in parts if name in p]
        if not held:  # an optional table no part has (a graph without addresses)
            continue
        frames = [frame for frame in held if len(frame)] or held[:1]
        if len(frames) == 1:
            out[name] = frames[0].reset_index(drop=True)
            continue
        merged = pd.concat(frames, ignore_index=True)
        # Grouping on a null tie_type needs dropna=False semantics: duplicated() has them.
        dup = merged.duplicated(subset=keys, keep="last")
        out[name] = merged.loc[~dup.to_numpy()].reset_index(drop=True)
    return out


def graph_from_id_rows(rows: Mapping[str, pd.DataFrame]) -> GraphTables:
    """Rebuild :class:`GraphTables` from id-keyed tables (see :func:`merge_id_rows`).

    A node referenced by an edge or application but missing from its node table is
    added (devices, accounts, platforms); a user must be present in ``users``.

    Raises
    ------
    InputError
        When the result is not a valid graph (an edge naming an absent user).
    """
    empty = _empty_tables()
    users = canonical_order("users", rows["users"])
    nodes = {"users": users}
    for name, node in NODE_TYPES.items():
        if node.source is not None:
            continue
        id_column = node.key.name
        known = rows.get(name, getattr(empty, name))
        named = [
            rows[rel.table][str(end.input)]
            for rel, end in references_into(name)
            if rel.table in rows
        ]
        ids = pd.concat([known[id_column], *named], ignore_index=True).dropna()
        table = pd.DataFrame({id_column: pd.Series(ids.unique(), dtype="string")})
        for prop in node.properties:
            table[prop.name] = first_given(table[id_column], known, id_column, prop.name).astype(
                prop.dtype
            )
        nodes[name] = canonical_order(name, table)

    built: dict[str, pd.DataFrame] = {}
    for name, refs in _REFERENCES.items():
        frame = rows.get(name)
        template = getattr(empty, name)
        if frame is None or not len(frame):
            built[name] = template.copy()
            continue
        frame = frame.reset_index(drop=True)
        columns: dict[str, object] = {}
        for column in template.columns:
            ref = refs.get(column)
            if ref is None:
                columns[column] = frame[column]
                continue
            node_table, node_id, id_column, nullable = ref
            position = index_of(frame[id_column], nodes[node_table][node_id])
            if nullable:
                position[frame[id_column].isna().to_numpy()] = NO_INDEX
            columns[column] = position
        typed = pd.DataFrame(columns).astype(template.dtypes.to_dict())
        built[name] = canonical_order(name, typed)
    return GraphTables(**nodes, **built).validate()


@functools.cache
def _empty_tables() -> GraphTables:
    # Templates only (read, or copied into a result): built once per process, as an
    # online call of a few rows would otherwise pay for them every time.
    return empty_graph_tables()


def named_ids(rows: Mapping[str, pd.DataFrame], node_table: str) -> list[str]:
    """The ids of ``node_table`` (an identifier, a platform) that the rows of ``rows``
    name: a device both as used and as applied from."""
    named: list[str] = []
    for rel, end in references_into(node_table):
        frame = rows.get(rel.table)
        if frame is not None and str(end.input) in frame.columns:
            named += frame[str(end.input)].dropna().astype(str).tolist()
    return named
