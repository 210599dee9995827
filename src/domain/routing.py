"""Pure routing choices: which deployment of a group takes the next call."""

from __future__ import annotations

import random
from collections.abc import Sequence

from domain.deployments import Deployment


def weighted_choice(deployments: Sequence[Deployment], rng: random.Random) -> Deployment:
    """simple-shuffle: pick at random in proportion to weight."""
    if len(deployments) == 1:
        return deployments[0]
    total = sum(d.weight for d in deployments)
    point = rng.random() * total
    for deployment in deployments:
        point -= deployment.weight
        if point < 0:
            return deployment
    return deployments[-1]
