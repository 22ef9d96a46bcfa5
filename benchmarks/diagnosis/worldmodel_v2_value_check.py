"""Diagnosis: when the v2 agent falls back after reaching a threshold, is its value estimate
over-optimistic (value over-estimation) or is it right about a model that is wrong?

Trains the world-model agent v2 (`TDMPCAgent`, default config) through its public API in
chunks of `--every` real steps and, after each chunk, plays `--episodes` deterministic
episodes (the planner, as an evaluation does) and compares, on every state visited:
- `V(s)`: the agent's value of the state, `E_{a ~ prior} Q(z(s), a)` averaged over its
  Q-ensemble, and the heads' spread (disagreement);
- `G(s)`: the discounted return actually collected from that state on (the agent's own
  discount), counted only on states at least `--tail` steps before a time-limit truncation
  (so the missing tail weighs at most discount**tail) or on episodes that terminated.
Over-estimation shows as `V - G` growing before or as the return falls; a model that is
wrong shows as its reward and termination scores (`model_metrics`) degrading on the agent's
own data while V tracks G. Each episode's last observation is kept too (`last_obs`: how it
ended). Nothing is written down about the task.

    python benchmarks/diagnosis/worldmodel_v2_value_check.py --task CartPole-v1 --seed 2
    python benchmarks/diagnosis/worldmodel_v2_value_check.py --task Acrobot-v1 --seed 1 \
        --set tau=0.05                       # one setting changed (numbers as JSON values)
    python benchmarks/diagnosis/worldmodel_v2_value_check.py \
        --task dm_control/cartpole-swingup-v0 --agent DIR   # one check of a saved agent

Appends one JSON line per call to benchmarks/results/worldmodel_v2_value_check.jsonl.
"""

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import gmrl
from gmrl.core.seeding import derive_seed
from gmrl.rl.envs import make_env
from gmrl.rl.rollout import episode_seeds
from gmrl.worldmodel.tdmpc import TDMPCAgent

OUT = Path(__file__).resolve().parents[1] / "results" / "worldmodel_v2_value_check.jsonl"


def play(agent: TDMPCAgent, task: str, seeds: list[int]) -> list[dict[str, Any]]:
    """Deterministic episodes of the agent: observations, rewards, how each ended."""
    episodes = []
    for seed in seeds:
        env = make_env(task)
        obs, _ = env.reset(seed=seed)
        rows, rewards, state, start, done = [obs], [], None, True, False
        terminated = False
        while not done:
            action, state = agent.predict(obs, state=state, episode_start=np.array([start]),
                                          deterministic=True)
            start = False
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            rows.append(obs)
            done = terminated or truncated
        env.close()
        episodes.append({"obs": np.asarray(rows[:-1], np.float32),
                         "reward": np.asarray(rewards), "terminated": bool(terminated),
                         "last_obs": [round(float(v), 3) for v in np.ravel(rows[-1])]})
    return episodes


@torch.no_grad()
def values(agent: TDMPCAgent, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          np.ndarray]:
    """Per state: V(s) averaged over every Q head, the heads' standard deviation of V, and
    (discrete actions; NaN otherwise) the action gap - the ensemble-mean Q of the best action
    minus that of the runner-up - with the heads' standard deviation of that same difference.
    A gap below its spread means the heads do not agree which action is better."""
    model = agent.model
    z = model.encode(torch.as_tensor(obs, device=agent.device))
    nan = np.full(len(obs), np.nan)
    if not model.discrete:
        action, _ = model.policy_sample(z, deterministic=True)
        v = model.codec.decode(model.q_logits(z, action))
        return v.mean(0).cpu().numpy(), v.std(0).cpu().numpy(), nan, nan
    probs = torch.softmax(model.policy(z), -1)
    eye = torch.eye(model.action_dim, device=z.device)
    every = z.unsqueeze(-2).expand(*z.shape[:-1], model.action_dim, z.shape[-1])
    q = model.codec.decode(model.q_logits(every, eye.expand(*z.shape[:-1], -1, -1)))
    v = (probs * q).sum(-1)  # (heads, states)
    top2 = q.mean(0).topk(2, dim=-1).indices  # (states, 2)
    heads = torch.arange(q.shape[0])[:, None]
    states = torch.arange(q.shape[1])[None, :]
    difference = q[heads, states, top2[:, 0]] - q[heads, states, top2[:, 1]]  # (heads, states)
    return (v.mean(0).cpu().numpy(), v.std(0).cpu().numpy(),
            difference.mean(0).cpu().numpy(), difference.std(0).cpu().numpy())


def discounted(rewards: np.ndarray, discount: float) -> np.ndarray:
    out, running = np.zeros(len(rewards)), 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + discount * running
        out[t] = running
    return out


def gap_figures(gap: np.ndarray, spread: np.ndarray) -> dict[str, float | None]:
    """Mean action gap, the heads' mean spread of it, and the share of states where the gap is
    smaller than its spread (None for continuous actions)."""
    if not len(gap) or np.isnan(gap).all():
        return {"action_gap": None, "action_gap_spread": None, "gap_below_spread": None}
    return {"action_gap": float(gap.mean()), "action_gap_spread": float(spread.mean()),
            "gap_below_spread": float((gap < spread).mean())}


def _by_third(v: np.ndarray, g: np.ndarray) -> list[float] | None:
    if len(g) < 3:
        return None
    order = np.argsort(g)
    return [float((v[part] - g[part]).mean()) for part in np.array_split(order, 3)]


def check(agent: TDMPCAgent, task: str, seeds: list[int], tail: int) -> dict[str, Any]:
    episodes = play(agent, task, seeds)
    v_all, g_all, spread, gaps, gap_spreads = [], [], [], [], []
    for episode in episodes:
        v, sd, gap, gap_sd = values(agent, episode["obs"])
        gaps.append(gap)
        gap_spreads.append(gap_sd)
        g = discounted(episode["reward"], agent.discount)
        keep = np.arange(len(g)) if episode["terminated"] else np.arange(max(len(g) - tail, 0))
        v_all.append(v[keep])
        g_all.append(g[keep])
        spread.append(sd[keep])
    v_cat, g_cat = np.concatenate(v_all), np.concatenate(g_all)
    metrics = agent.model_metrics()
    return {
        "steps": agent.num_timesteps,
        "returns": [float(e["reward"].sum()) for e in episodes],
        # where each episode ended (e.g. CartPole: the cart at the rail or the pole down)
        "last_obs": [e["last_obs"] for e in episodes],
        "states_scored": len(g_cat),
        "value_mean": float(v_cat.mean()) if len(v_cat) else None,
        "return_mean": float(g_cat.mean()) if len(g_cat) else None,
        "value_minus_return": float((v_cat - g_cat).mean()) if len(v_cat) else None,
        "value_abs_error": float(np.abs(v_cat - g_cat).mean()) if len(v_cat) else None,
        "head_spread": float(np.concatenate(spread).mean()) if len(v_cat) else None,
        # V - G over the states of the lowest, middle and highest third of G: does V miss the
        # best states (under-estimates there) or the worst?
        "value_minus_return_by_return_third": _by_third(v_cat, g_cat),
        "q_scale": float(agent.q_scale),
        **gap_figures(np.concatenate(gaps), np.concatenate(gap_spreads)),
        **{k: (float(v) if np.isfinite(v) else None) for k, v in metrics.items()
           if k.startswith(("reward", "termination", "holdout"))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="CartPole-v1")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--tail", type=int, default=200,
                        help="states this close to a time-limit end are not scored")
    parser.add_argument("--agent", help="check this saved TDMPCAgent once instead of training")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="TDMPCConfig settings changed from the defaults")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.time()
    changes = {key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)}
    if args.agent:  # one check of the saved agent, nothing trained
        agent = gmrl.load(args.agent)
        changes = {"loaded": args.agent, **changes}
    else:
        agent = TDMPCAgent(make_env(args.task), changes, seed=args.seed, device="cpu")
    seeds = episode_seeds(derive_seed(args.seed, "value_check"), args.episodes)
    rows: list[dict[str, Any]] = []
    while not rows or (not args.agent and agent.num_timesteps < args.steps):
        if not args.agent:
            agent.learn(args.every)
        row = check(agent, args.task, seeds, args.tail)
        rows.append(row)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                          for k, v in row.items()}), flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=OUT.parent, check=False).stdout.strip()
    record = {"task": args.task, "seed": args.seed, "discount": agent.discount, "commit": commit,
              "config": {"defaults_except": changes}, "checks": rows,
              "seconds": round(time.time() - start)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
