"""Open-set identification by cosine similarity, and per-track multi-frame voting.

An identity's similarity to a probe is the best over its enrolled embeddings (several poses and
lightings per person). A probe is *known* only when the best identity clears the threshold AND
beats the second-best identity by a margin: two similar-looking people are "unknown" rather than
a coin flip. Voting then requires the same identity in several frames of one track, so one noisy
frame cannot grant access.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]

UNKNOWN = ""  # identity of an unknown face in decisions and votes


@dataclass(frozen=True)
class Match:
    identity: str  # UNKNOWN when not known
    similarity: float  # best similarity (to `best`, even when unknown)
    best: str  # best-scoring identity, known or not ("" with an empty gallery)
    second_similarity: float

    @property
    def known(self) -> bool:
        return self.identity != UNKNOWN


class Matcher:
    """Immutable snapshot of a gallery: (M,D) embeddings with one identity label each."""

    def __init__(
        self,
        embeddings: F32,
        labels: list[str],
        threshold: float,
        margin: float,
    ) -> None:
        if embeddings.ndim != 2 or embeddings.shape[0] != len(labels):
            raise ValueError(
                f"embeddings must be (M,D) with M={len(labels)} labels, got {embeddings.shape}"
            )
        self.threshold = threshold
        self.margin = margin
        self.identities = sorted(set(labels))
        index = {name: i for i, name in enumerate(self.identities)}
        self._owner = np.array([index[n] for n in labels], dtype=np.intp)
        self._emb = embeddings.astype(np.float32)

    @property
    def dim(self) -> int | None:
        return int(self._emb.shape[1]) if self._emb.size else None

    def similarities(self, probes: F32) -> F32:
        """(P, identities) best cosine similarity of each probe to each identity."""
        p = np.asarray(probes, np.float32).reshape(len(probes), -1)
        out = np.full((len(p), len(self.identities)), -1.0, np.float32)
        if not self.identities or len(p) == 0:
            return out
        sims = p @ self._emb.T  # (P, M)
        for k in range(len(self.identities)):
            out[:, k] = sims[:, self._owner == k].max(axis=1)
        return out

    def decide(self, sims_row: F32) -> Match:
        if sims_row.size == 0:
            return Match(UNKNOWN, 0.0, "", 0.0)
        order = np.argsort(-sims_row)
        best = float(sims_row[order[0]])
        second = float(sims_row[order[1]]) if len(order) > 1 else -1.0
        name = self.identities[int(order[0])]
        known = best >= self.threshold and best - second >= self.margin
        return Match(name if known else UNKNOWN, best, name, second)

    def match(self, probes: F32) -> list[Match]:
        return [self.decide(row) for row in self.similarities(probes)]


@dataclass(frozen=True)
class Vote:
    identity: str  # UNKNOWN when the track is confirmed unknown
    votes: int
    similarity: float  # mean similarity of the winning votes
    confirmed: bool


class TrackVoter:
    """Majority over the last ``window`` decisions of one track; confirmed at ``min_votes``."""

    def __init__(self, window: int = 5, min_votes: int = 3) -> None:
        if not 1 <= min_votes <= window:
            raise ValueError(f"need 1 <= min_votes <= window, got {min_votes}, {window}")
        self.window = window
        self.min_votes = min_votes
        self._history: deque[tuple[str, float]] = deque(maxlen=window)

    def add(self, match: Match) -> Vote:
        self._history.append((match.identity, match.similarity))
        return self.current()

    def current(self) -> Vote:
        if not self._history:
            return Vote(UNKNOWN, 0, 0.0, False)
        counts: dict[str, list[float]] = {}
        for ident, sim in self._history:
            counts.setdefault(ident, []).append(sim)
        # ties go to the most recent decision: the freshest evidence wins
        last = self._history[-1][0]
        winner = max(counts, key=lambda k: (len(counts[k]), k == last))
        sims = counts[winner]
        return Vote(winner, len(sims), float(np.mean(sims)), len(sims) >= self.min_votes)

    def reset(self) -> None:
        self._history.clear()
