"""The commands behind `sizeup`: each parses nothing (harness.cli does) and owns its orchestration."""
