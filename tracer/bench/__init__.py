"""The side-by-side benchmark against kernel audit (issue 6): scenarios, statistics, table and JSON.
Run through scripts/bench, which sets up the machine and builds the workload first."""
