"""Published figures the music benchmarks and the tuner's corpus budget are measured against.

`RL_TUNER_TABLE1`: Jaques et al. 2017 ("Sequence Tutor" / RL Tuner), Table 1, 10,000
compositions each of the Note-RNN and the Q-, Psi- and G-learning tuners; percentages as printed.
Its Q row is the bar issue 25's targets and `gmrl.music.budget`'s rule-meeting windows use.
"""

RL_TUNER_TABLE1: dict[str, dict[str, float]] = {
    "note_rnn": {"repeated_notes_pct": 63.3, "not_in_key_pct": 0.1, "tonic_start_pct": 0.9,
                 "leaps_resolved_pct": 77.2, "unique_max_pct": 64.7, "unique_min_pct": 49.4,
                 "notes_in_motif_pct": 5.9, "notes_in_repeated_motif_pct": 0.007,
                 "autocorrelation_lag1": -0.16},
    "q": {"repeated_notes_pct": 0.0, "not_in_key_pct": 1.00, "tonic_start_pct": 28.8,
          "leaps_resolved_pct": 91.1, "unique_max_pct": 56.4, "unique_min_pct": 51.9,
          "notes_in_motif_pct": 75.7, "notes_in_repeated_motif_pct": 0.11,
          "autocorrelation_lag1": -0.11},
    "psi": {"repeated_notes_pct": 0.02, "not_in_key_pct": 0.60, "tonic_start_pct": 28.7,
            "leaps_resolved_pct": 90.0, "unique_max_pct": 59.4, "unique_min_pct": 58.3,
            "notes_in_motif_pct": 73.8, "notes_in_repeated_motif_pct": 0.09,
            "autocorrelation_lag1": -0.10},
    "g": {"repeated_notes_pct": 0.03, "not_in_key_pct": 28.7, "tonic_start_pct": 0.0,
          "leaps_resolved_pct": 52.2, "unique_max_pct": 37.1, "unique_min_pct": 56.5,
          "notes_in_motif_pct": 69.3, "notes_in_repeated_motif_pct": 0.01,
          "autocorrelation_lag1": 0.55},
}
