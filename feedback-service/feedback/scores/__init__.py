"""Scores of providers and offerings: a Bayesian average of the ratings, so a handful of votes cannot top the
ranking, beside complaint and no-show rates; ``score.updated`` is emitted debounced."""
