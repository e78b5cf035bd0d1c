"""Synthetic data: phantom datasets written in the dataset layout (:mod:`pointseg.simulate.cases`) and
simulated annotator clicks from full labels (:mod:`pointseg.simulate.clicks`)."""
