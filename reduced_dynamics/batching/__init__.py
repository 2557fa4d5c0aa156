"""The batching layer: B members of one ``nn.Module`` (grid points of a probe, runs of a
sweep) trained as one model (torch). One concept per module, in pipeline order:

* `stacking`: the members' parameters stacked along a leading member axis, θ and its norm;
* `members`: the batched call, by ``vmap`` or member by member, chosen by a dry run;
  `mlp_bmm`: the hand-written fast path for MLPs; `build`: which of them a module gets;
* `data`: which examples each member sees (n_train subsets, minibatches); `evaluation`:
  the task's ``collate`` of them into model inputs, predictions, per-member losses;
* `divergence`: members that overflow are frozen, not fatal; `step`: the one optimiser
  step of the probe and the trainer; `devices`: device names and settings.

The package re-exports nothing: import from the modules.
"""
