"""Benchmarks: plain scripts, run by hand (bench/README.md); a package so that they can share modules."""
