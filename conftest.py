"""Make ``python -m pytest`` from the checkout import the installed package.

``python -m`` puts the current directory first on ``sys.path``, where the folder
``riskgraph/`` lacks the subpackages that setuptools maps in from ``loaders/``,
``graph/`` and ``gnn/``. Dropping the checkout from the path makes both ``pytest``
and ``python -m pytest`` test the installed (editable) package.
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _ROOT]
