"""The API's OpenAPI 3.1 document (spec.py) and where it is served (views.py)."""
