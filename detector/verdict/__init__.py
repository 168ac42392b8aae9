"""Release verdicts: a log-native CD gate and a security record per release (CONTRACTS §4, §6)."""
