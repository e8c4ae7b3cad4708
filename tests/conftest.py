"""Shared fixtures. Real models load once per test session through the production search order."""
