"""Evaluation workflows that join generation and metrics: `genlab eval` (`run`), `genlab
control` (`control`), VAE reconstructions (`reconstruct`) and `genlab clip-eval` (`clip`),
plus the evaluator the trainer calls every `train.eval_every` steps (`run`)."""
