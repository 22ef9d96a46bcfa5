"""`TransitionStore` moved to `gmrl.rl.transitions` (shared with `gmrl.synthetic`); this
module keeps the old import path for `gmrl.worldmodel.agent`."""

from gmrl.rl.transitions import TransitionStore

__all__ = ["TransitionStore"]
