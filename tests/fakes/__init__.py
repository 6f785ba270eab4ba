"""Loopback stand-ins that only tests use (one module per fake); the demo's live in core/sandbox."""
