"""Scenario catalogue, runner, invariant checker and reports."""
