"""Pixel observations for classic-control tasks: render, crop, shrink, grey, stack.

```python
env = make_pixel_env("CartPole-v1", size=(32, 64), stack=2)   # obs: uint8 (2, 32, 64)
obs, info = env.reset(seed=0)
```

`PixelObservation` replaces an env's observation with its own `render()` output, cropped to the
band where things move, reduced to one grey channel (the darkest RGB channel, which keeps
CartPole's tan pole dark), shrunk with torch (`resize="area"`: anti-aliased, so sub-pixel
positions of the thin pole survive as grey levels; `"max"`: max-pooled darkness, crisp lines) and
stacked over the last `stack` frames. One frame shows where the cart and pole are but not where
they are going; two frames make velocity observable, so a model of the frames can be Markovian.
Observations are channel-first `uint8` (the layout SB3's CNN policies and our conv VAE expect);
the wrapped env's true state is not exposed, so whatever learns from these frames learns from
pixels alone. `action_repeat=k` holds each action for k env steps and renders once (the standard
trick of pixel control, e.g. PlaNet): one decision's effect on the picture grows about k^2-fold,
which is what makes CartPole's tiny per-step pushes visible at 32x64.
"""

from collections import deque
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from pydantic import Field

from gmrl.core.config import StrictModel
from gmrl.core.errors import EnvError
from gmrl.rl.guard import EnvGuard

# Rows (fractions of the rendered height) that hold the moving parts, per task. CartPole's track
# sits at 75% of the 400-pixel frame and the upright pole reaches 40%; the rest is empty sky.
DEFAULT_CROPS: dict[str, tuple[float, float]] = {"CartPole-v1": (0.35, 0.825)}


class FrameSection(StrictModel):
    """How frames are rendered: size (H, W, multiples of 8), frames stacked, resize method."""

    size: tuple[int, int] = (32, 64)
    stack: int = Field(default=2, ge=1, le=4)
    resize: Literal["area", "max"] = "area"
    action_repeat: int = Field(
        default=3, ge=1, description="env steps per decision (one frame each)"
    )


class PixelObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Observe `env.render()` frames (cropped, resized, grey, stacked) instead of the state."""

    def __init__(
        self,
        env: gym.Env,
        *,
        size: tuple[int, int] = (32, 64),
        stack: int = 2,
        grayscale: bool = True,
        crop_rows: tuple[float, float] | None = None,
        resize: str = "area",
        action_repeat: int = 1,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            size=size,
            stack=stack,
            grayscale=grayscale,
            crop_rows=crop_rows,
            resize=resize,
            action_repeat=action_repeat,
        )
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise EnvError(
                f"{env.spec.id if env.spec else env}: PixelObservation needs "
                "render_mode='rgb_array' (use make_pixel_env)"
            )
        if stack < 1 or min(size) < 8 or action_repeat < 1:
            raise EnvError(
                f"bad pixel settings stack={stack} size={size} action_repeat={action_repeat}: "
                "need stack >= 1, size >= 8, action_repeat >= 1"
            )
        self.action_repeat = int(action_repeat)
        if crop_rows is not None and not 0.0 <= crop_rows[0] < crop_rows[1] <= 1.0:
            raise EnvError(f"crop_rows={crop_rows} must satisfy 0 <= top < bottom <= 1")
        if resize not in ("area", "max"):
            raise EnvError(f"resize='{resize}' is unknown: use 'area' or 'max'")
        self.resize = resize
        self.size = (int(size[0]), int(size[1]))
        self.stack = int(stack)
        self.grayscale = grayscale
        self.crop_rows = crop_rows
        self.frame_channels = 1 if grayscale else 3
        self._frames: deque[np.ndarray] = deque(maxlen=self.stack)
        self.observation_space = spaces.Box(
            0, 255, (self.stack * self.frame_channels, *self.size), dtype=np.uint8
        )

    def frame(self) -> np.ndarray:
        """The current rendered frame, processed to `(frame_channels, H, W)` uint8."""
        image = self.env.render()
        if image is None:
            raise EnvError(
                "the wrapped env rendered nothing: create it with render_mode='rgb_array'"
            )
        pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()
        if self.crop_rows is not None:
            height = pixels.shape[1]
            top, bottom = (round(f * height) for f in self.crop_rows)
            pixels = pixels[:, top:bottom]
        if self.grayscale:  # the darkest channel: the pole (202, 152, 101) stays dark
            pixels = pixels.amin(0, keepdim=True)
        if self.resize == "area":  # anti-aliased: sub-pixel positions survive as grey levels
            small = F.interpolate(pixels[None], size=self.size, mode="area")[0]
        else:  # max-pool darkness: 1-pixel lines stay at full contrast
            small = 255.0 - F.adaptive_max_pool2d(255.0 - pixels[None], self.size)[0]
        return small.round().clamp(0, 255).to(torch.uint8).numpy()

    def _observation(self) -> np.ndarray:
        return np.concatenate(list(self._frames), axis=0)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        _, info = self.env.reset(**kwargs)
        first = self.frame()
        for _ in range(self.stack):
            self._frames.append(first)
        return self._observation(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply `action` `action_repeat` times (stopping at episode end), then render once.

        The reward is the sum over the repeats; `info["env_steps"]` says how many underlying
        env steps were taken, so sample counts stay honest.
        """
        total, steps = 0.0, 0
        terminated = truncated = False
        info: dict[str, Any] = {}
        while steps < self.action_repeat and not (terminated or truncated):
            _, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            steps += 1
        self._frames.append(self.frame())
        return self._observation(), total, terminated, truncated, {**info, "env_steps": steps}


def make_pixel_env(
    env_id: str,
    *,
    size: tuple[int, int] = (32, 64),
    stack: int = 2,
    grayscale: bool = True,
    crop_rows: tuple[float, float] | str | None = "auto",
    resize: str = "area",
    action_repeat: int = 1,
    **make_kwargs: Any,
) -> PixelObservation:
    """`gym.make(env_id, render_mode="rgb_array")` wrapped in `PixelObservation`.

    The state env is guarded first (`gmrl.rl.guard.EnvGuard`): a NaN reward, a bad state or an
    exception mid-episode becomes one `EnvError` line naming the env and the step, as in every
    other recipe.

    `crop_rows="auto"` uses the task's entry in `DEFAULT_CROPS` (no crop for other tasks).
    """
    try:
        env = EnvGuard(gym.make(env_id, render_mode="rgb_array", **make_kwargs), env_id)
    except gym.error.Error as exc:
        raise EnvError(
            f"cannot make pixel env '{env_id}': {str(exc).splitlines()[0]} "
            "(use a Gymnasium id that supports render_mode='rgb_array', e.g. CartPole-v1)"
        ) from exc
    crop = DEFAULT_CROPS.get(env_id) if isinstance(crop_rows, str) else crop_rows
    return PixelObservation(
        env,
        size=size,
        stack=stack,
        grayscale=grayscale,
        crop_rows=crop,
        resize=resize,
        action_repeat=action_repeat,
    )
