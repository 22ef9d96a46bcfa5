"""Diagnosis: does the v2 agent's planner help or hurt, against its own policy prior?

Trains the world-model agent v2 (`TDMPCAgent`, default config) through its public API for
`--steps` real steps on one task and seed (or loads a saved agent with `--agent`), then
evaluates the same weights acting several ways on the same 5 seeded episodes: by default the
planner with `plan_horizon` 1, 2 and 3 and the policy prior alone (`act=policy`); `--variants`
picks others (longer plans: 8, today's default, to 60), and `--model-error` adds the model's
open-loop error k steps ahead on a real episode. Nothing else changes between the rows, so a
gap between them is the planner's doing: a longer plan only helps when the learned dynamics
carry the actions' effects better than the Q-functions already do.

    python benchmarks/diagnosis/worldmodel_v2_plan_horizon.py --task CartPole-v1 --steps 2000
    python benchmarks/diagnosis/worldmodel_v2_plan_horizon.py --task Acrobot-v1 --agent DIR
    python benchmarks/diagnosis/worldmodel_v2_plan_horizon.py \
        --task dm_control/cartpole-swingup-v0 --steps 10000 --model-error \
        --variants plan_h8 plan_h15 plan_h30 plan_h60 policy_prior

Appends one JSON line per call to benchmarks/results/worldmodel_v2_plan_horizon.jsonl.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import gmrl
from gmrl.rl.envs import make_env
from gmrl.rl.rollout import evaluate_agent
from gmrl.worldmodel.tdmpc import TDMPCAgent

OUT = Path(__file__).resolve().parents[1] / "results" / "worldmodel_v2_plan_horizon.jsonl"
VARIANTS: dict[str, dict[str, object]] = {
    "plan_h1": {"plan_horizon": 1}, "plan_h2": {"plan_horizon": 2},
    "plan_h3_default": {"plan_horizon": 3}, "policy_prior": {"act": "policy"},
    # longer plans through the same model (today's default plans 8 steps)
    "plan_h8": {"plan_horizon": 8}, "plan_h15": {"plan_horizon": 15},
    "plan_h30": {"plan_horizon": 30}, "plan_h60": {"plan_horizon": 60},
    "plan_h30_full": {"plan_horizon": 30, "prior_stop": None},
    # execute the elites' weighted mean rather than the top elite's first action (Box)
    "plan_h8_mean": {"plan_horizon": 8, "plan_action": "mean"},
    "plan_h15_mean": {"plan_horizon": 15, "plan_action": "mean"},
    "plan_h8_mean_full": {"plan_horizon": 8, "plan_action": "mean", "prior_stop": None},
}
EARLIER = ("plan_h1", "plan_h2", "plan_h3_default", "policy_prior")  # the earlier rows
ERROR_STEPS = (1, 4, 8, 15, 30, 60)


@torch.no_grad()
def open_loop_error(agent: TDMPCAgent, task: str, seed: int) -> dict[str, float]:
    """The model's k-step open-loop error on one real episode the agent acts in: from every
    start, the latent after k imagined steps with the actions taken against the encoded real
    observation k steps later; mean squared error per latent unit (state dynamics: units of the
    observation's running spread), for each k in `ERROR_STEPS`."""
    env = make_env(task)
    obs, _ = env.reset(seed=seed)
    observations, actions, state = [np.asarray(obs, np.float32)], [], None
    done = False
    while not done:
        action, state = agent.predict(obs, state=state, deterministic=True)
        vector = np.asarray(action, np.float32).reshape(-1)
        if agent.discrete:
            vector = np.eye(agent.model.action_dim, dtype=np.float32)[int(action)]
        else:  # back to the model's [-1, 1] units
            vector = 2 * (vector - agent._low) / (agent._high - agent._low) - 1
        obs, _, terminated, truncated, _ = env.step(action)
        observations.append(np.asarray(obs, np.float32))
        actions.append(vector)
        done = terminated or truncated
    z_real = agent.model.encode(torch.as_tensor(np.stack(observations)))
    acts = torch.as_tensor(np.stack(actions), dtype=torch.float32)
    out: dict[str, float] = {}
    for k in ERROR_STEPS:
        starts = len(actions) - k + 1
        if starts < 1:
            continue
        z = z_real[:starts]
        for t in range(k):
            z = agent.model.next(z, acts[t:t + starts])
        out[str(k)] = round(float((z - z_real[k:k + starts]).pow(2).mean()), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="CartPole-v1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--agent", help="a saved TDMPCAgent to evaluate instead of training")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--eval-seed", type=int, default=100)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=EARLIER,
                        help="ways of acting to compare (default: the earlier four)")
    parser.add_argument("--save", help="save the trained agent here (to rerun with --agent)")
    parser.add_argument("--model-error", action="store_true",
                        help="also record the model's open-loop error (ERROR_STEPS)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.time()
    if args.agent:
        agent = gmrl.load(args.agent)
        trained = f"loaded from {args.agent} ({agent.num_timesteps} real steps)"
    else:
        agent = TDMPCAgent(make_env(args.task), seed=args.seed, device="cpu").learn(args.steps)
        if args.save:
            agent.save(args.save)
        trained = f"TDMPCAgent(default config, seed={args.seed}).learn({args.steps})"
    base = agent.config
    row: dict[str, object] = {"task": args.task, "seed": args.seed, "trained": trained,
                              "real_steps": agent.num_timesteps, "eval_seed": args.eval_seed}
    if args.model_error:
        row["model_error"] = open_loop_error(agent, args.task, args.eval_seed)
        print("open-loop error per latent unit after k steps:", row["model_error"], flush=True)
    for name in args.variants:
        change = VARIANTS[name]
        agent.config = base.model_copy(update=change)
        agent.planner.config = agent.config
        returns = evaluate_agent(agent, lambda: make_env(args.task), episodes=args.episodes,
                                 seed=args.eval_seed)
        row[name] = {"mean": round(float(returns.mean()), 1),
                     "returns": np.round(returns, 1).tolist()}
        print(f"{name:16s} {returns.mean():8.1f}  {np.round(returns, 0)}", flush=True)
    row["seconds"] = round(time.time() - start)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
