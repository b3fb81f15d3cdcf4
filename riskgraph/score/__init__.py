"""The credit score: scorecard, reason codes, decisions, fairness."""
