"""Analysis: statistics, comparisons and fits computed from records only; it never runs a case."""
