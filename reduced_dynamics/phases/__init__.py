"""Phase diagrams (SPEC §15, Liu et al. 2022): comprehension, grokking, memorisation and
confusion over a grid of two of (η_D, γ, α0, m0, N), predicted from a landscape or measured
from a batched sweep of full runs, and the two compared.

The rule (`classify`), with step budget T and gap τ (defaults `names.PHASE_T` = 1e5,
`names.PHASE_TAU` = 1e3), on t_train and t_test, the first steps with train accuracy ≥
the train threshold and with the test event (test accuracy ≥ the test threshold, or test
loss ≤ it for a task that groks on loss): comprehension when t_test ≤ T and either t_train
≤ T with t_test − t_train < τ or t_train is not within T (a run that generalises without
fitting); grokking when both are within T and t_test − t_train ≥ τ; memorisation when only
t_train is; confusion when neither is.

* `predicted_phases`: Eq. 6 integrated from every cell's start with its rates by the engine
  (`engine.predict.integrate`, one batched call per training-set size), up to t_max = T and
  stopped at the test event (nothing after it changes the phase); t_train = t_overfit and
  t_test = t_grok of the path, events on the interpolated accuracies (or test loss).
* `measured_phases`: the runs of a trajectory file whose per-run coordinates form the full
  grid; t_train, t_test = the first logged steps at the thresholds (`engine.thresholds`).
  Several runs per cell (seeds): the cell's phase is the most common one among its runs
  (a tie goes to the phase listed first in `names.Phase`), ``phase_count`` holds how many
  runs fell in each phase, and t_train, t_test are the medians over the runs (a time not
  within T counts as later than any: the median is NaN when half or more of the runs did
  not get there).
* `compare_phases`: the fraction of cells whose phases agree and the 4 × 4 confusion table.

Times beyond T are NaN in both ("not within T"); a diagram holds nothing the rule does not
use. Thresholds (`PhaseThresholds`) default to the task's: the test threshold is the
file's ``task.grok_threshold`` (SPEC §12, else test accuracy 0.95), the train threshold its
``task.train_acc_threshold`` (else 0.95).

One module per step: `rule` (the thresholds, the rule, the grid and the Dataset),
`predicted`, `measured`, `compare`.
"""

from reduced_dynamics.phases.compare import compare_phases, prediction_arguments, same_grid
from reduced_dynamics.phases.measured import measured_phases, run_axes
from reduced_dynamics.phases.predicted import predicted_phases
from reduced_dynamics.phases.rule import (
    PhaseThresholds,
    check_budget,
    check_grid,
    classify,
    phase_dataset,
    thresholds_of,
)

__all__ = ["PhaseThresholds", "check_budget", "check_grid", "classify", "compare_phases",
           "measured_phases", "phase_dataset", "predicted_phases", "prediction_arguments",
           "run_axes", "same_grid", "thresholds_of"]
