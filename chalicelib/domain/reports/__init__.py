"""Reports (REP-1..4): ten report types as .xlsx workbooks, on demand and scheduled."""
