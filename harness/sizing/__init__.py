"""Sizing: the VM catalog, and rules that turn fitted measurements into priced recommendations."""
