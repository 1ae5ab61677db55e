"""Renderers: the terminal tables, the live progress of a run, the report and exports."""
