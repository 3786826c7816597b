"""The pure playbook domain: model, loader, expressions, checklist builder, rendering."""
