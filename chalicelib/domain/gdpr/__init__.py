"""GDPR (issue 18): one person's data exported as a ZIP, or erased across every feature."""
