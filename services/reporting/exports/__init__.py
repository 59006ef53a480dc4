"""Exports: any report's rows as CSV or XLSX, streamed, watermarked and audited."""
