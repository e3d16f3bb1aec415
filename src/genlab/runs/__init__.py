"""Assembling runs: a config becomes data, a method, pretrained parts and a judge, handed to
the engine as built objects (`runs.train`); a run folder becomes a ready model (`runs.load`)."""
