"""After-action reports: the incident export (jsonl, csv, md, html, pdf), the period report for
the council, and the printable call sheet. Data assembly is plain functions over a session;
renderers per format; Jinja2 templates for html and md; matplotlib charts."""
