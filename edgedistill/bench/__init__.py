"""Benchmark runners: each measures one model file on one device profile in a fresh child process."""
