"""Utilisation reports for admins: figures in SQL (service.py), SVG charts, CSV."""
