"""Creative tasks: melody generation tuned by RL with a music-theory reward."""
