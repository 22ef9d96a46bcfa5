"""RL Tuner's rules folded into a melody policy's logits (`LogitGuide`).

`RuleGuide(reward_config, scale, rules)` adds `scale x` the reward each event would earn after
the prefix under `rules` (default key and repetition; the motif and repeated-motif rules can
join: `MusicTheoryReward.every_action`) to the policy's logits. With
`scale = 1 / (c * beta)` that is the immediate part of the KL-regularised optimum the on-policy
tuner aims at, p exp((r_MT / c) / beta): a repeat that RL Tuner punishes with -100 becomes
exp(-100 / (c beta)) times less likely in every state, including states too rare for a sampled
gradient to reach. It is hand-written music theory applied at generation time (as RL Tuner's
Q-network applies its learned Q), so results that use it say so; `to_dict` / `from_dict` let a
saved policy carry it.
"""

from typing import Any

import torch

from gmrl.generative.logit_guide import LogitGuide
from gmrl.music.reward import (
    ACTION_RULES,
    SCORABLE_RULES,
    MusicRewardConfig,
    MusicTheoryReward,
)


class RuleGuide(LogitGuide):
    """Logit offsets `scale x MusicTheoryReward(reward).every_action(tokens, rules)`."""

    def __init__(
        self, reward: MusicRewardConfig, scale: float, rules: tuple[str, ...] = ACTION_RULES
    ) -> None:
        if not scale > 0:
            raise ValueError(f"RuleGuide scale must be > 0, got {scale}")
        unknown = set(rules) - set(SCORABLE_RULES)
        if not rules or unknown:
            raise ValueError(f"RuleGuide rules must be some of {', '.join(SCORABLE_RULES)}, "
                             f"got {list(rules)}")
        self.reward = MusicTheoryReward(reward)
        self.scale = float(scale)
        self.rules = tuple(rules)

    def offsets(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.reward.every_action(tokens, self.rules) * self.scale

    def next_offsets(self, prefix: torch.Tensor) -> torch.Tensor:
        """Scores only the new position (`MusicTheoryReward.next_action`)."""
        return self.reward.next_action(prefix, self.rules) * self.scale

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description that `from_dict` rebuilds."""
        return {"reward": self.reward.config.model_dump(mode="json"), "scale": self.scale,
                "rules": list(self.rules)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RuleGuide":
        rules = tuple(data.get("rules", ACTION_RULES))
        return cls(MusicRewardConfig.model_validate(data["reward"]), float(data["scale"]), rules)
