"""Melodies from a real corpus, tuned by RL with a music-theory reward (combination 4).

RL Tuner's encoding (Jaques et al. 2017): one event per 16th-note step, 38 classes (0 = note off,
1 = no event, 2..37 = MIDI 48..83), 32-step compositions in C major.
"""
