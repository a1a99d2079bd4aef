"""Invoices, their catalogue and settings in the single table; PDFs and the
logo in S3 (INV-*, SET-5, SET-6, SET-11)."""
