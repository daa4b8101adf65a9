"""Provider scores: a Bayesian average of the ratings, so a handful of votes cannot top the ranking."""
