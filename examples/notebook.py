# %% [markdown]
# # portfolio-backtester from a notebook
#
# Each `# %%` block is a notebook cell (Jupyter, VS Code and PyCharm open this file as a
# notebook; `python examples/notebook.py` runs it as a script, which the tests do).

# %%
import pandas as pd

import portfolio_backtester as pb
from portfolio_backtester.data.builtin import load_sp500

# %% [markdown]
# ## Data as DataFrames
# Closes with one column per ticker and dates as the index (opens the same way, if you
# have them), and a benchmark Series. They pass the same checks as a file.

# %%
prices, index = load_sp500()  # the embedded data; use your own frames here
benchmark = index["SP500"]

# %% [markdown]
# ## One backtest, then many on data loaded once

# %%
scenario = {"name": "trend", "strategy": {"name": "sma_crossover"}}
one = pb.run_backtest(scenario, data=pb.load_data(scenario, prices=prices[["AAPL"]]))
print(f"one backtest: Sharpe {one.metrics['Sharpe']:.2f}")

grid = [{"fast_days": f, "slow_days": s} for f in (10, 20, 50) for s in (100, 200)]
table = pb.backtest_many(scenario, grid, prices=prices[["AAPL", "MSFT"]], benchmark=benchmark)
print(table[["fast_days", "slow_days", "Sharpe", "CAGR", "Max Drawdown"]].round(3))

# %% [markdown]
# ## An optimisation in one call
# Walk-forward over the scenario's windows, two worker processes, a temporary study
# (pass `storage="study.log"` to keep it and resume later). The honest result, the
# out-of-sample one, comes first; `in_sample` is labelled as such.

# %%
# A script's spawned workers import this file again, so the call that starts them runs
# only in the script itself; a notebook needs no such guard.
if __name__ == "__main__":
    study = pb.optimize(
        {
            "name": "momentum-notebook",
            "strategy": {"name": "simple_momentum"},
            "optimize": {
                "params": {
                    "lookback_months": {"type": "int", "low": 3, "high": 12},
                    "top_n": {"type": "int", "low": 2, "high": 8},
                },
                "objectives": [{"metric": "Sharpe"}],
                "trials": 12,
                "mode": "walk_forward",
                "windows": {"train_days": 1260, "test_days": 504, "kind": "rolling"},
                "seed": 7,
            },
        },
        n_jobs=2,
        prices=prices,
        benchmark=benchmark,
    )
    assert study.out_of_sample is not None
    print("best parameters:", study.best_params)
    print(f"out-of-sample Sharpe: {study.out_of_sample.metrics['Sharpe']:.2f}")
    print(f"in-sample Sharpe (flattering): {study.in_sample.metrics['Sharpe']:.2f}")
    print(study.summary())
    trials: pd.DataFrame = study.trials
    print(trials[["study", "number", "state", "value_0"]].head())
