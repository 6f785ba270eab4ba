"""Loopback fakes of outside systems that only tests use (one module per fake)."""
